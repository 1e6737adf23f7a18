"""Moderation that means what it says: blocking an active partner's domain asks first, then
suspends the partnership and hides its members and calls (purged on request); removing a
partner asks first; an administrator's bare account is not offered to partner coops."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from profiles.members import ProfileData, create_member
from profiles.models import Call, Member, Partnership
from profiles.visibility import Audience

PASSWORD = "a long enough password"
PARTNER = "partner.example"


@pytest.fixture
def node(make_node):
    app = make_node()
    app.config["WTF_CSRF_ENABLED"] = False
    state = app.extensions["coopfed"]
    with state.session() as s:
        create_member(s, state.ctx, username="root", password=PASSWORD, is_admin=True)
        create_member(
            s,
            state.ctx,
            username="anna",
            password=PASSWORD,
            profile=ProfileData(name="Anna", visibility="partners"),
            vocab=state.vocabulary.get(s),
        )
        s.add(
            Partnership(
                actor=f"https://{PARTNER}/actor",
                domain=PARTNER,
                name="Smart Partner",
                inbox=f"https://{PARTNER}/inbox",
                state="active",
            )
        )
        eva = Member(
            ap_id=f"https://{PARTNER}/members/eva",
            local=False,
            node=PARTNER,
            username="eva",
            name="Eva Remote",
            visibility="partners",
            coop_name="Smart Partner",
        )
        s.add(eva)
        s.add(
            Call(
                ap_id=f"https://{PARTNER}/calls/c1",
                public_id="remotecall1",
                local=False,
                node=PARTNER,
                author=eva,
                title="Remote rigging call",
                visibility="partners",
                country="BE",
            )
        )
        s.commit()
    return app


def _client(app):
    client = app.test_client()
    assert client.post("/login", data={"username": "root", "password": PASSWORD}).status_code == 302
    return client


def _visible(client) -> tuple[bool, bool, int, int]:
    directory = client.get("/directory").get_data(as_text=True)
    calls = client.get("/calls").get_data(as_text=True)
    member = client.get(f"/members/eva@{PARTNER}").status_code
    call = client.get("/calls/remotecall1").status_code
    return "Eva Remote" in directory, "Remote rigging call" in calls, member, call


def _partner_state(app):
    with app.extensions["coopfed"].session() as s:
        row = s.scalar(select(Partnership).where(Partnership.domain == PARTNER))
        return row.state if row else None


def _stored(app) -> int:
    with app.extensions["coopfed"].session() as s:
        return s.scalar(select(func.count(Member.id)).where(Member.node == PARTNER)) + s.scalar(
            select(func.count(Call.id)).where(Call.node == PARTNER)
        )


@pytest.mark.parametrize("purge", [False, True])
def test_blocking_an_active_partner_asks_then_suspends_and_hides(node, purge):
    client = _client(node)
    assert _visible(client) == (True, True, 200, 200)
    page = client.post("/admin/federation/blocks/block_domain", data={"value": PARTNER})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="confirm-consequences"' in html
    assert "ends the partnership" in html and "hidden" in html and 'name="purge"' in html
    assert _partner_state(node) == "active" and _visible(client) == (True, True, 200, 200)
    form = {"value": PARTNER, "confirm": "1", "reason": "spam"} | ({"purge": "1"} if purge else {})
    done = client.post("/admin/federation/blocks/block_domain", data=form, follow_redirects=True)
    assert "partnership is suspended" in done.get_data(as_text=True)
    assert _partner_state(node) == "suspended"
    assert _visible(client) == (False, False, 404, 404)
    assert _stored(node) == (0 if purge else 2)
    admin = client.get("/admin/federation/").get_data(as_text=True)
    assert "suspended" in admin and "(blocked)" in admin


def test_blocking_another_domain_needs_no_confirmation(node):
    client = _client(node)
    r = client.post("/admin/federation/blocks/block_domain", data={"value": "evil.example"})
    assert r.status_code == 302 and _partner_state(node) == "active"


def test_removing_a_partner_asks_first(node):
    client = _client(node)
    page = client.post("/admin/federation/partners/remove", data={"domain": PARTNER})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "deletes here every member and call" in html
    assert 'id="link-cancel"' in html and _partner_state(node) == "active" and _stored(node) == 2
    client.post("/admin/federation/partners/remove", data={"domain": PARTNER, "confirm": "1"})
    assert _partner_state(node) is None and _stored(node) == 0


def test_an_admins_bare_account_stays_in_its_coop(node):
    from profiles.visibility import may_view

    state = node.extensions["coopfed"]
    with state.session() as s:
        root = s.scalar(select(Member).where(Member.username == "root"))
        assert root.visibility == "coop"
        assert not may_view(root.visibility, local=True, audience=Audience.PARTNER)
        assert may_view("partners", local=True, audience=Audience.PARTNER)  # anna is offered


def test_members_of_a_blocked_coop_are_not_suggested(node):
    from profiles.calls import CallData, create_call
    from profiles.members import get_local
    from profiles.models import MemberConcept

    skill = "http://data.europa.eu/esco/skill/72812eb6-5a0f-48e8-815d-3d2a16b8e963"
    state = node.extensions["coopfed"]
    with state.session() as s:
        eva = s.scalar(select(Member).where(Member.username == "eva"))
        eva.skills = [MemberConcept(concept_iri=skill, kind="skill")]
        call = create_call(
            s,
            state.ctx,
            get_local(s, state.ctx, "anna"),
            CallData(title="Sound", country="SE", skills_required=[skill]),
            state.vocabulary.get(s),
        )
        s.commit()
        public_id = call.public_id
    client = node.test_client()
    client.post("/login", data={"username": "anna", "password": PASSWORD})

    def suggested() -> list[str]:
        body = client.get(f"/api/v1/calls/{public_id}/matches?limit=50").get_json()
        return [m["username"] for m in body["matches"]]

    assert "eva" in suggested()
    with state.session() as s:
        state.federation_service().block_host(s, PARTNER, "spam")
        s.commit()
    assert "eva" not in suggested()


def test_blocking_a_parent_domain_covers_the_partner_and_hides_its_rows(node):
    """A block of ``example`` covers ``partner.example`` (as in federation and in Mastodon):
    the admin is asked first, the partnership is suspended and its rows are hidden everywhere;
    a look-alike name that is not a subdomain is not caught."""
    state = node.extensions["coopfed"]
    with state.session() as s:
        s.add(
            Member(
                ap_id="https://xpartner.example.org/members/ola",
                local=False,
                node="xpartner.example.org",
                username="ola",
                name="Ola Lookalike",
                visibility="partners",
            )
        )
        s.commit()
    client = _client(node)
    assert _visible(client) == (True, True, 200, 200)
    asked = client.post("/admin/federation/blocks/block_domain", data={"value": "example"})
    assert asked.status_code == 200 and 'id="link-cancel"' in asked.get_data(as_text=True)
    assert _partner_state(node) == "active"
    client.post(
        "/admin/federation/blocks/block_domain",
        data={"value": "example", "confirm": "1"},
    )
    assert _partner_state(node) == "suspended"
    assert _visible(client) == (False, False, 404, 404)
    with state.session() as s:
        from profiles import moderation

        assert moderation.is_blocked(s, "social.partner.example:8443")
        assert not moderation.is_blocked(s, "xpartner.example.org")
        assert "social.partner.example" in moderation.blocked_hosts(s)
    assert "Ola Lookalike" in client.get("/directory").get_data(as_text=True)
