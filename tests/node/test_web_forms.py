"""Web UI forms: profile editing with the no-JS concept picker, avatars, calls, the directory."""

from __future__ import annotations

import re

import pytest
from node_helpers import add_call, add_member, sign_in

from profiles.members import get_local

# ESCO "operate an audio mixing console"; its Swedish label in the shipped vocabulary is
# "ljudmixning".
SOUND_MIXING = "http://data.europa.eu/esco/skill/72812eb6-5a0f-48e8-815d-3d2a16b8e963"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def member(app, username):
    """The member as stored now, detached: its session is closed so it holds no locks."""
    state = app.extensions["coopfed"]
    with state.session() as s:
        found = get_local(s, state.ctx, username)
        # Load what the tests read before the session closes.
        _ = (found.skills, found.languages, found.availability, found.links)
        return found


def label(app, iri, lang):
    state = app.extensions["coopfed"]
    with state.session() as s:
        return state.vocabulary.get(s).label(iri, lang)


def profile_form(**overrides):
    form = {
        "name": "Anna Berg",
        "summary": "I mix sound.",
        "country": "SE",
        "city": "Malmö",
        "visibility": "public",
        "language_code": ["sv", "en", ""],
        "language_level": ["native", "C1", ""],
        "avail_start": ["2031-05-01", ""],
        "avail_end": ["2031-06-30", ""],
        "link_url": ["https://anna.example/portfolio", ""],
        "link_title": ["Portfolio", ""],
        "ui_language": "",
        "action": "save",
    }
    form.update(overrides)
    return form


@pytest.fixture
def app(make_node):
    app = make_node()
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def test_profile_round_trip_with_swedish_skill_search(app, client):
    add_member(app, "anna")
    sign_in(client, "anna")
    english = label(app, SOUND_MIXING, "en")
    assert english != "ljudmixning"
    # Step 1: find a skill by its Swedish name while the UI is English: the suggestion is
    # labelled in English and says which label matched; everything typed so far is kept.
    response = client.post(
        "/profile/edit", data=profile_form(action="find_skill", find_skill="ljudmixning")
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'value="{SOUND_MIXING}"' in page
    assert english in page and "matched: ljudmixning" in page
    assert 'value="Anna Berg"' in page and 'value="Malmö"' in page
    assert 'value="2031-05-01"' in page and 'value="https://anna.example/portfolio"' in page
    assert "Profile saved" not in page and member(app, "anna").skills == []
    # Step 2: tick it and save.
    response = client.post("/profile/edit", data=profile_form(skills=[SOUND_MIXING]))
    assert response.status_code == 302
    saved = member(app, "anna")
    assert [c.concept_iri for c in saved.skills] == [SOUND_MIXING]
    assert saved.name == "Anna Berg" and saved.city == "Malmö"
    assert [(lang.code, lang.level) for lang in saved.languages] == [("en", "C1"), ("sv", "native")]
    assert [(str(r.start), str(r.end)) for r in saved.availability] == [
        ("2031-05-01", "2031-06-30")
    ]
    # The member's page shows it in the viewer's language.
    page = client.get("/members/anna", headers={"Accept-Language": "sv"}).get_data(as_text=True)
    assert "ljudmixning" in page
    # The edit form shows current skills as ticked boxes.
    page = client.get("/profile/edit").get_data(as_text=True)
    assert re.search(rf'name="skills" value="{re.escape(SOUND_MIXING)}" checked', page)
    # Unticking removes it.
    client.post("/profile/edit", data=profile_form())
    assert member(app, "anna").skills == []


def test_find_with_swedish_ui_and_no_match(app, client):
    add_member(app, "anna")
    sign_in(client, "anna")
    page = client.post(
        "/profile/edit?lang=sv", data=profile_form(action="find_skill", find_skill="ljudmixning")
    ).get_data(as_text=True)
    assert f'value="{SOUND_MIXING}"' in page and "ljudmixning" in page
    response = client.post(
        "/profile/edit?lang=en",
        data=profile_form(action="find_occupation", find_occupation="qqxzzv"),
    )
    assert response.status_code == 200
    assert "Nothing matches" in response.get_data(as_text=True)


def test_unknown_iri_is_refused_and_input_kept(app, client):
    add_member(app, "anna")
    sign_in(client, "anna")
    response = client.post(
        "/profile/edit",
        data=profile_form(
            skills=["http://data.europa.eu/esco/skill/not-a-skill"], name="Kept Name"
        ),
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="skills-error"' in page and 'value="Kept Name"' in page
    assert member(app, "anna").name == "anna"


def test_bio_script_is_stripped(app, client):
    add_member(app, "anna")
    sign_in(client, "anna")
    client.post(
        "/profile/edit", data=profile_form(summary='Hi <script>alert("x")</script><b>there</b>')
    )
    assert "<script" not in member(app, "anna").summary
    page = client.get("/members/anna").get_data(as_text=True)
    assert 'alert("x")' not in page and "<b>there</b>" in page


def test_plain_bio_becomes_paragraphs_and_name_is_escaped(app, client):
    add_member(app, "anna")
    sign_in(client, "anna")
    client.post(
        "/profile/edit", data=profile_form(summary="One & two\n\nThree", name="<i>Anna</i>")
    )
    page = client.get("/members/anna").get_data(as_text=True)
    assert "<p>One &amp; two</p><p>Three</p>" in page
    assert "<i>Anna</i>" not in page


def test_profile_visibility(app, client):
    add_member(app, "anna", visibility="coop", name="Anna Secret")
    add_member(app, "pia", visibility="public")
    assert client.get("/members/anna").status_code == 404
    assert client.get("/members/pia").status_code == 200
    assert "Anna Secret" not in client.get("/directory").get_data(as_text=True)
    sign_in(client, "pia")
    assert client.get("/members/anna").status_code == 200


def test_profile_edit_needs_sign_in(app, client):
    response = client.get("/profile/edit")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_avatar_upload_replace_and_checks(make_node):
    import io

    # A small limit keeps the upload in memory (large test-client bodies spool to temp files).
    app = make_node(max_avatar_bytes=1024)
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()

    add_member(app, "anna", visibility="public")
    sign_in(client, "anna")
    data = profile_form(avatar=(io.BytesIO(PNG), "me.png"))
    assert (
        client.post("/profile/edit", data=data, content_type="multipart/form-data").status_code
        == 302
    )
    first = member(app, "anna").avatar
    assert first and first.endswith(".png")
    with client.get(f"/avatars/{first}") as served:
        assert served.status_code == 200
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert served.data == PNG
    # A replacement removes the old file.
    gif = b"GIF89a" + b"\x00" * 32
    data = profile_form(avatar=(io.BytesIO(gif), "me.gif"))
    client.post("/profile/edit", data=data, content_type="multipart/form-data")
    second = member(app, "anna").avatar
    assert second.endswith(".gif") and client.get(f"/avatars/{first}").status_code == 404
    # Not an image (whatever its name says): refused, the old picture stays.
    data = profile_form(avatar=(io.BytesIO(b"<svg onload=alert(1)>"), "x.png"))
    response = client.post("/profile/edit", data=data, content_type="multipart/form-data")
    assert response.status_code == 422 and 'id="avatar-error"' in response.get_data(as_text=True)
    assert member(app, "anna").avatar == second
    # Too large.
    big = PNG + b"\x00" * app.extensions["coopfed"].settings.max_avatar_bytes
    data = profile_form(avatar=(io.BytesIO(big), "big.png"))
    response = client.post("/profile/edit", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert client.get("/avatars/..%2Fcoopfed.db").status_code == 404


def call_form(**overrides):
    form = {
        "title": "Sound for a theatre tour",
        "description": "Four weeks on the road.",
        "language": "en",
        "languages": ["en", "sv"],
        "country": "SE",
        "city": "Malmö",
        "starts": "2031-05-01",
        "ends": "2031-05-28",
        "deadline": "2031-04-01",
        "compensation": "€300 a day",
        "visibility": "public",
        "status": "open",
        "action": "save",
    }
    form.update(overrides)
    return form


def test_call_create_edit_close_delete(app, client):
    add_member(app, "anna")
    sign_in(client, "anna")
    # Find a required skill; the typed call stays in the form.
    response = client.post(
        "/calls/new", data=call_form(action="find_required", find_required="ljudmixning")
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and f'value="{SOUND_MIXING}"' in page
    assert 'value="Sound for a theatre tour"' in page
    # Missing title: 422 with the message and everything else kept.
    response = client.post("/calls/new", data=call_form(title="", skills_required=[SOUND_MIXING]))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="title-error"' in page and "Four weeks on the road." in page
    assert re.search(rf'name="skills_required" value="{re.escape(SOUND_MIXING)}" checked', page)
    response = client.post("/calls/new", data=call_form(skills_required=[SOUND_MIXING]))
    assert response.status_code == 302
    public_id = response.headers["Location"].rsplit("/", 1)[-1]
    page = client.get(f"/calls/{public_id}").get_data(as_text=True)
    assert "Sound for a theatre tour" in page and label(app, SOUND_MIXING, "en") in page
    assert 'id="btn-close-call"' in page
    response = client.post(f"/calls/{public_id}/edit", data=call_form(title="Sound, second tour"))
    assert response.status_code == 302
    assert "Sound, second tour" in client.get("/calls").get_data(as_text=True)
    client.post(f"/calls/{public_id}/close")
    assert "Sound, second tour" not in client.get("/calls").get_data(as_text=True)
    assert 'id="btn-reopen-call"' in client.get(f"/calls/{public_id}").get_data(as_text=True)
    client.post(f"/calls/{public_id}/reopen")
    assert "Sound, second tour" in client.get("/calls").get_data(as_text=True)
    assert 'id="btn-delete-call"' in client.get(f"/calls/{public_id}/delete").get_data(as_text=True)
    assert client.post(f"/calls/{public_id}/delete").status_code == 302
    assert client.get(f"/calls/{public_id}").status_code == 404


def test_editing_someone_elses_call_is_403(app, client):
    add_member(app, "anna")
    add_member(app, "bob")
    public_id = add_call(app, "anna")
    sign_in(client, "bob")
    assert "link-edit-call" not in client.get(f"/calls/{public_id}").get_data(as_text=True)
    assert client.get(f"/calls/{public_id}/edit").status_code == 403
    assert (
        client.post(f"/calls/{public_id}/edit", data=call_form(title="Mine now")).status_code == 403
    )
    assert client.post(f"/calls/{public_id}/close").status_code == 403
    assert client.post(f"/calls/{public_id}/delete").status_code == 403
    assert client.get(f"/calls/{public_id}").status_code == 200


def test_state_changes_are_post_only(app, client):
    add_member(app, "anna")
    public_id = add_call(app, "anna")
    sign_in(client, "anna")
    assert client.get(f"/calls/{public_id}/close").status_code == 405
    assert client.get("/logout").status_code == 405


def test_call_visibility(app, client):
    add_member(app, "anna")
    public_id = add_call(app, "anna", visibility="coop", title="Members only")
    assert client.get(f"/calls/{public_id}").status_code == 404
    assert "Members only" not in client.get("/calls").get_data(as_text=True)
    sign_in(client, "anna")
    assert "Members only" in client.get("/calls").get_data(as_text=True)


def test_calls_filters(app, client):
    add_member(app, "anna")
    add_call(app, "anna", title="Stockholm gig", country="SE", skills_required=[SOUND_MIXING])
    add_call(app, "anna", title="Remote edit", country="", remote=True, languages=["de"])
    page = client.get("/calls?remote=yes").get_data(as_text=True)
    assert "Remote edit" in page and "Stockholm gig" not in page
    page = client.get(f"/calls?skill={SOUND_MIXING}").get_data(as_text=True)
    assert "Stockholm gig" in page and "Remote edit" not in page
    page = client.get("/calls?language=de").get_data(as_text=True)
    assert "Remote edit" in page and "Stockholm gig" not in page
    page = client.get("/calls?country=SE").get_data(as_text=True)
    assert "Stockholm gig" in page and "Remote edit" not in page


def test_directory_filters(app, client):
    add_member(
        app,
        "anna",
        visibility="public",
        name="Anna Berg",
        country="SE",
        city="Malmö",
        skills=[SOUND_MIXING],
        languages=[("sv", "native")],
        availability=[
            (__import__("datetime").date(2031, 5, 1), __import__("datetime").date(2031, 6, 30))
        ],
    )
    add_member(
        app,
        "pierre",
        visibility="public",
        name="Pierre Roux",
        country="FR",
        languages=[("fr", "native")],
    )

    def names(url):
        page = client.get(url).get_data(as_text=True)
        return {n for n in ("Anna Berg", "Pierre Roux") if n in page}

    assert names("/directory") == {"Anna Berg", "Pierre Roux"}
    assert names(f"/directory?skill={SOUND_MIXING}") == {"Anna Berg"}
    assert names("/directory?country=FR") == {"Pierre Roux"}
    assert names("/directory?language=sv") == {"Anna Berg"}
    assert names("/directory?q=pierre") == {"Pierre Roux"}
    assert names("/directory?available_from=2031-06-01&available_until=2031-06-10") == {"Anna Berg"}
    assert names("/directory?available_from=2032-01-01") == set()
    assert names("/directory?node=smart.test") == {"Anna Berg", "Pierre Roux"}
    # Typed text is linked to concepts offered as radio choices; the best one filters.
    page = client.get("/directory?skill_q=ljudmixning&lang=en").get_data(as_text=True)
    assert re.search(rf'name="skill" value="{re.escape(SOUND_MIXING)}" checked', page)
    assert "Anna Berg" in page and "Pierre Roux" not in page
    assert client.get("/directory?available_from=notadate").status_code == 422
