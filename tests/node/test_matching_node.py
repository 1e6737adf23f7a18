"""Matchmaking wired into a node: call pages, home pages, the JSON API, index freshness.

The node is smart.at (Austria). Partner coops' members are inserted as ``Member(local=False)``
rows, which is what federation stores when their Person arrives.
"""

from __future__ import annotations

from datetime import date

import pytest
from node_helpers import PASSWORD, sign_in
from sqlalchemy import select

from profiles import calls as call_service
from profiles import members as member_service
from profiles.members import ProfileData, create_member
from profiles.models import AvailabilityRange, Member, MemberConcept, MemberLanguage

SKILL = "http://data.europa.eu/esco/skill/"
COMPOSE = SKILL + "c109d892-3665-4743-877b-2ba23834e9e0"  # sv "komponera musik", de "Komposition"
ORCHESTRATE = SKILL + "5e682b6e-1957-4146-9c05-2e2590760757"  # de "Orchestrierung"
NOTATION = SKILL + "6339a2d3-0c34-4156-b202-5929764fb720"  # de "Notenschrift"
MAKEUP = SKILL + "8599fe11-e263-4e6c-a4a2-d6e8d2498b5a"  # de "Maskenbild"


def _state(app):
    return app.extensions["coopfed"]


def local(app, username, *, skills=(), country="AT", langs=(("de", "native"),), **kw):
    state = _state(app)
    with state.session() as s:
        vocab = state.vocabulary.get(s)
        member = create_member(
            s,
            state.ctx,
            username=username,
            email=f"{username}@example.at",
            password=PASSWORD,
            is_admin=kw.pop("is_admin", False),
            profile=ProfileData(
                name=username.title(),
                country=country,
                city=kw.pop("city", "Wien"),
                languages=list(langs),
                skills=list(skills),
                visibility=kw.pop("visibility", "partners"),
                remote=kw.pop("remote", False),
                summary=kw.pop("summary", ""),
            ),
            vocab=vocab,
        )
        s.commit()
        return member.ap_id


def remote(app, username, node, country, *, skills=(), langs=(("en", "C1"),), **kw):
    """A partner coop's member as federation stores it (no domain event)."""
    with _state(app).session() as s:
        m = Member(
            ap_id=f"http://{node}/members/{username}",
            local=False,
            node=node,
            username=username,
            name=username.title(),
            country=country,
            city=kw.pop("city", ""),
            coop_name=f"Smart {country}",
            visibility=kw.pop("visibility", "partners"),
            remote=kw.pop("remote", False),
        )
        m.skills = [MemberConcept(concept_iri=i, kind="skill") for i in skills]
        m.languages = [MemberLanguage(code=c, level=lv) for c, lv in langs]
        m.availability = [AvailabilityRange(start=a, end=b) for a, b in kw.pop("avail", ())]
        s.add(m)
        s.commit()
        return m.ap_id


def post_call(app, author, *, required, optional=(), languages=("de", "en"), **kw):
    state = _state(app)
    with state.session() as s:
        member = s.scalar(select(Member).where(Member.username == author, Member.local))
        call = call_service.create_call(
            s,
            state.ctx,
            member,
            call_service.CallData(
                title=kw.pop("title", "Filmmusik für einen Dokumentarfilm"),
                skills_required=list(required),
                skills_optional=list(optional),
                languages=list(languages),
                country="AT",
                city="Wien",
                starts=date(2027, 3, 1),
                ends=date(2027, 3, 31),
            ),
            state.vocabulary.get(s),
        )
        s.commit()
        return call.public_id


@pytest.fixture
def app(make_node):
    app = make_node(domain="smart.at", name="Smart Österreich", country="AT")
    app.config["WTF_CSRF_ENABLED"] = False
    local(app, "anna", skills=[NOTATION])
    local(app, "karl", skills=[ORCHESTRATE], city="Graz", langs=[("de", "native"), ("en", "B2")])
    remote(
        app,
        "sven",
        "smart.se",
        "SE",
        skills=[COMPOSE, ORCHESTRATE],
        city="Malmö",
        avail=[(date(2027, 2, 1), date(2027, 3, 15))],
        remote=True,
    )
    return app


@pytest.fixture
def call_id(app):
    return post_call(app, "anna", required=[COMPOSE, ORCHESTRATE], optional=[NOTATION])


def matches(client, call_id, query=""):
    response = client.get(f"/api/v1/calls/{call_id}/matches?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def usernames(body):
    return [m["username"] for m in body["matches"]]


def test_author_sees_ranked_collaborators_with_reasons_in_german(app, call_id):
    client = app.test_client()
    sign_in(client, "anna")
    page = client.get(f"/calls/{call_id}?lang=de").get_data(as_text=True)
    section = page[page.index('id="matches"') :]
    # The Swede covers both required skills, the Austrian one: the Swede ranks first.
    assert section.index("Sven") < section.index("Karl")
    # Skills entered on the Swedish node, shown with their German labels.
    assert "Komposition" in section and "Orchestrierung" in section
    assert "komponera musik" not in section
    assert "Schweden" in section  # the country, in German too (CLDR)

    body = matches(client, call_id, "lang=de")
    assert usernames(body) == ["sven", "karl"]
    sven = body["matches"][0]
    assert sven["actor"] == "http://smart.se/members/sven"
    assert sven["node"] == "smart.se" and sven["country"] == "SE"
    codes = {r["code"]: r for r in sven["reasons"]}
    covers = codes["covers_required"]
    assert {c["label"] for c in covers["concepts"]} == {"Komposition", "Orchestrierung"}
    assert "Komposition" in covers["text"]
    assert codes["cross_border"]["values"] == ["SE", "AT"]
    assert "Schweden" in codes["cross_border"]["text"]
    assert codes["availability_overlap"]["values"] == ["15", "2027-03-01", "2027-03-15"]
    assert codes["shared_languages"]["values"] == ["en"]
    assert "Englisch" in codes["shared_languages"]["text"]
    assert "remote_ok" not in codes  # the call is on site
    # What Sven adds that the team (Anna: notation only) lacks.
    assert {c["iri"] for c in codes["adds_to_team"]["concepts"]} == {COMPOSE, ORCHESTRATE}
    # The sentence itself is translated too (gettext), not only the labels.
    en = matches(client, call_id, "lang=en")["matches"][0]["reasons"]
    en_covers = next(r["text"] for r in en if r["code"] == "covers_required")
    assert en_covers.startswith("Has the required skills")
    assert not covers["text"].startswith("Has the required skills")
    # The same reasons in Swedish when asked for.
    sv = matches(client, call_id, "lang=sv")["matches"][0]["reasons"]
    assert "komponera musik" in next(r["text"] for r in sv if r["code"] == "covers_required")


def test_filters_cross_border_own_coop_remote(app, call_id):
    client = app.test_client()
    sign_in(client, "anna")
    assert usernames(matches(client, call_id, "cross_border=1")) == ["sven"]
    assert usernames(matches(client, call_id, "own_coop=1")) == ["karl"]
    assert usernames(matches(client, call_id, "remote=1")) == ["sven"]
    page = client.get(f"/calls/{call_id}?own_coop=1").get_data(as_text=True)
    section = page[page.index('id="matches"') :]
    assert "Karl" in section and "Sven" not in section
    assert 'id="filter-own-coop" name="own_coop" value="1" checked' in section


def test_coop_only_members_stay_inside_their_coop(app, call_id):
    remote(app, "cora", "smart.de", "DE", skills=[COMPOSE, ORCHESTRATE], visibility="coop")
    local(app, "lotta", skills=[COMPOSE], visibility="coop")
    client = app.test_client()
    sign_in(client, "anna")
    names = usernames(matches(client, call_id, "limit=50"))
    assert "cora" not in names  # coop-only on smart.de: never shown on smart.at
    assert "lotta" in names  # coop-only here: our own coop sees her


def test_deleted_member_is_gone_at_once(app, call_id):
    client = app.test_client()
    sign_in(client, "anna")
    assert "karl" in usernames(matches(client, call_id))
    service = _state(app).match_service()
    assert service.builds == 1
    with _state(app).session() as s:
        karl = s.scalar(select(Member).where(Member.username == "karl"))
        key = karl.ap_id
        assert service.indexed(key)
        member_service.delete_member(s, karl)
        s.commit()
        # Out of the index by the commit itself, before any further request or worker step.
        assert not service.indexed(key)
    assert "karl" not in usernames(matches(client, call_id))
    assert service.builds == 1  # removed from the index, not rebuilt


def test_rolled_back_delete_changes_nothing(app, call_id):
    client = app.test_client()
    sign_in(client, "anna")
    matches(client, call_id)
    with _state(app).session() as s:
        karl = s.scalar(select(Member).where(Member.username == "karl"))
        key = karl.ap_id
        member_service.delete_member(s, karl)
        s.rollback()
    assert _state(app).match_service().indexed(key)
    assert "karl" in usernames(matches(client, call_id))


def test_saved_profile_and_federated_rows_reach_the_index(app, call_id):
    client = app.test_client()
    sign_in(client, "anna")
    assert usernames(matches(client, call_id)) == ["sven", "karl"]
    # A local edit goes through the domain event and the after-commit hook.
    local(app, "lena", skills=[COMPOSE, ORCHESTRATE], langs=[("de", "native")])
    assert "lena" in usernames(matches(client, call_id))
    # A row written by another process (no event here): the worker's watermark job finds it.
    remote(app, "dirk", "smart.de", "DE", skills=[COMPOSE])
    from node.worker import Worker

    Worker(_state(app)).run_once()
    assert "dirk" in usernames(matches(client, call_id))


def test_team_covers_the_required_skills(app):
    remote(app, "mira", "smart.de", "DE", skills=[MAKEUP])
    call_id = post_call(app, "anna", required=[COMPOSE, ORCHESTRATE, MAKEUP])
    client = app.test_client()
    sign_in(client, "anna")
    body = matches(client, call_id, "lang=de")
    team = {t["username"]: {c["iri"] for c in t["covers"]} for t in body["team"]}
    assert team == {"sven": {COMPOSE, ORCHESTRATE}, "mira": {MAKEUP}}
    assert body["uncovered"] == []
    page = client.get(f"/calls/{call_id}?lang=de").get_data(as_text=True)
    assert "Maskenbild" in page[page.index('id="team-heading"') :]


def test_only_the_author_or_an_admin_sees_call_matches(app, call_id):
    local(app, "root", is_admin=True)
    client = app.test_client()
    assert client.get(f"/api/v1/calls/{call_id}/matches").status_code == 403
    assert client.get("/api/v1/calls/nope/matches").status_code == 404
    sign_in(client, "karl")
    response = client.get(f"/api/v1/calls/{call_id}/matches")
    assert response.status_code == 403 and "error" in response.get_json()
    page = client.get(f"/calls/{call_id}").get_data(as_text=True)
    assert 'id="matches"' not in page  # the call page itself stays visible, without matches
    assert client.get("/api/v1/members/anna/suggestions").status_code == 403
    admin = app.test_client()
    sign_in(admin, "root")
    assert admin.get(f"/api/v1/calls/{call_id}/matches").status_code == 200


def test_home_page_and_api_suggest_calls_and_people(app, call_id):
    client = app.test_client()
    sign_in(client, "karl")
    page = client.get("/?lang=de").get_data(as_text=True)
    calls = page[page.index('id="suggested-calls"') : page.index('id="suggested-people"')]
    assert "Filmmusik für einen Dokumentarfilm" in calls
    assert "Orchestrierung" in calls  # why: Karl has a required skill, label in German
    people = page[page.index('id="suggested-people"') :]
    assert "Sven" in people  # both orchestrate and both work in English: a fit both ways
    body = client.get("/api/v1/members/karl/suggestions?lang=en").get_json()
    assert [c["title"] for c in body["calls"]] == ["Filmmusik für einen Dokumentarfilm"]
    assert body["calls"][0]["call"].startswith("http://smart.at/")
    assert [p["username"] for p in body["people"]] == ["sven"]
    assert body["people"][0]["reasons"][0]["code"] == "reciprocal"


def test_closed_call_is_no_longer_suggested(app, call_id):
    client = app.test_client()
    sign_in(client, "karl")
    body = client.get("/api/v1/members/karl/suggestions").get_json()
    assert len(body["calls"]) == 1
    state = _state(app)
    with state.session() as s:
        call = call_service.get_by_public_id(s, call_id)
        anna = s.scalar(select(Member).where(Member.username == "anna"))
        call_service.set_status(s, call, anna, "closed")
        s.commit()
    assert client.get("/api/v1/members/karl/suggestions").get_json()["calls"] == []


def test_bio_text_is_linked_to_concepts(app, call_id):
    # No declared skill, but the bio names one (in German): found, credited as text.
    local(app, "bea", summary="<p>Ich mache Komposition für Theater.</p>")
    client = app.test_client()
    sign_in(client, "anna")
    body = matches(client, call_id, "lang=de&limit=50")
    bea = next(m for m in body["matches"] if m["username"] == "bea")
    text = next(r for r in bea["reasons"] if r["code"] == "text_match")
    assert [c["iri"] for c in text["concepts"]] == [COMPOSE]
    assert usernames(body).index("bea") > usernames(body).index("sven")


def test_worker_drops_rows_another_process_deleted(app, call_id):
    client = app.test_client()
    sign_in(client, "anna")
    assert "sven" in usernames(matches(client, call_id))
    state = _state(app)
    service = state.match_service()
    # Another process deletes Sven: we see no event, only the row is gone.
    with state.engine.begin() as conn:
        conn.execute(Member.__table__.delete().where(Member.username == "sven"))
    assert service.indexed("http://smart.se/members/sven")
    service.reconcile_seconds = 0
    from node.worker import Worker

    Worker(state).run_once()
    assert not service.indexed("http://smart.se/members/sven")


def test_responses_follow_the_openapi_document(app, call_id):
    from jsonschema import Draft202012Validator

    client = app.test_client()
    doc = client.get("/api/v1/openapi.json").get_json()
    assert "/calls/{public_id}/matches" in doc["paths"]
    assert "/members/{username}/suggestions" in doc["paths"]

    def check(name, instance):
        schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
        errors = list(Draft202012Validator(schema).iter_errors(instance))
        assert not errors, [e.message for e in errors[:5]]

    sign_in(client, "anna")
    body = matches(client, call_id, "lang=de")
    assert body["matches"] and body["team"]
    check("CallMatches", body)
    karl = app.test_client()
    sign_in(karl, "karl")
    body = karl.get("/api/v1/members/karl/suggestions").get_json()
    assert body["calls"] and body["people"]
    check("Suggestions", body)
    assert karl.get("/api/v1/members/karl/suggestions?limit=0").status_code == 400
    assert karl.get("/api/v1/members/karl/suggestions?lang=xx").status_code == 400
