"""The admin federation page and the block commands (one node, no network)."""

from __future__ import annotations

import re

from click.testing import CliRunner

from federation.models import ActorBlock, DomainPolicyEntry
from node.cli.partners import block, deliveries, unblock
from profiles import members as member_service


def sign_in_admin(app, client) -> None:
    state = app.extensions["coopfed"]
    with state.session() as s:
        member_service.create_member(
            s, state.ctx, username="root", password="correct horse battery", is_admin=True
        )
        member_service.create_member(s, state.ctx, username="joe", password="correct horse battery")
        s.commit()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = client.post(
        "/login",
        data={"username": "root", "password": "correct horse battery", "csrf_token": token},
    )
    assert r.status_code in (302, 303)


def test_admin_page_blocks_and_health(make_node) -> None:
    app = make_node()
    client = app.test_client()
    assert client.get("/admin/federation/").status_code in (302, 303)  # signed out
    sign_in_admin(app, client)
    page = client.get("/admin/federation/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Partnership requests" in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = client.post(
        "/admin/federation/blocks/block_domain",
        data={"value": "evil.example", "reason": "spam", "csrf_token": token},
    )
    assert r.status_code in (302, 303)
    assert "evil.example" in client.get("/admin/federation/").get_data(as_text=True)
    # Without the CSRF token nothing happens.
    client.post("/admin/federation/blocks/block_domain", data={"value": "other.example"})
    state = app.extensions["coopfed"]
    with state.session() as s:
        assert [e.host for e in s.query(DomainPolicyEntry)] == ["evil.example"]


def test_block_commands(make_node) -> None:
    app = make_node()
    state = app.extensions["coopfed"]
    runner = CliRunner()
    obj = {"state": state}
    assert runner.invoke(block, ["domain", "bad.example"], obj=obj).exit_code == 0
    assert runner.invoke(block, ["actor", "https://x.example/u/1"], obj=obj).exit_code == 0
    with state.session() as s:
        assert s.query(DomainPolicyEntry).count() == 1 and s.query(ActorBlock).count() == 1
    assert runner.invoke(unblock, ["domain", "bad.example"], obj=obj).exit_code == 0
    assert runner.invoke(unblock, ["actor", "https://x.example/u/1"], obj=obj).exit_code == 0
    with state.session() as s:
        assert s.query(DomainPolicyEntry).count() == 0 and s.query(ActorBlock).count() == 0
    out = runner.invoke(deliveries, [], obj=obj)
    assert out.exit_code == 0 and "deliveries: none" in out.output


def test_partnership_decision_is_confirmed_in_the_admins_language(make_node) -> None:
    from profiles.models import Partnership

    app = make_node()
    client = app.test_client()
    sign_in_admin(app, client)
    state = app.extensions["coopfed"]
    with state.session() as s:
        s.add(
            Partnership(
                actor="https://smart.example/actor",
                domain="smart.example",
                inbox="https://smart.example/inbox",
                state="pending",
                direction="incoming",
            )
        )
        s.commit()
    german = {"Accept-Language": "de"}
    html = client.get("/admin/federation/", headers=german).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = client.post(
        "/admin/federation/partners/reject",
        data={"domain": "smart.example", "csrf_token": token},
        headers=german,
        follow_redirects=True,
    )
    page = r.get_data(as_text=True)
    assert "Partnerschaftsanfrage von smart.example abgelehnt." in page
    with state.session() as s:
        assert s.query(Partnership).one().state == "rejected"
