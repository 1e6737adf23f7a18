"""Web UI: signing in and out, CSRF, and that every page renders in several UI languages."""

from __future__ import annotations

import re

import pytest
from node_helpers import PASSWORD, add_call, add_member, post_login, sign_in

from profiles.models import LoginAttempt

SOUND_MIXING = "http://data.europa.eu/esco/skill/72812eb6-5a0f-48e8-815d-3d2a16b8e963"


@pytest.fixture
def app(make_node):
    app = make_node()
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def test_sign_in_and_out(app, client):
    add_member(app, "anna")
    response = post_login(client, "anna")
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "Welcome, anna" in page
    assert client.post("/logout").status_code == 302
    assert "Welcome" not in client.get("/").get_data(as_text=True)


def test_wrong_password_is_401(app, client):
    add_member(app, "anna")
    response = post_login(client, "anna", "wrong password!!")
    assert response.status_code == 401
    assert 'role="alert"' in response.get_data(as_text=True)
    assert "Welcome" not in client.get("/").get_data(as_text=True)


def test_rate_limit_after_five_failures(app, client):
    add_member(app, "anna")
    for _ in range(5):
        assert post_login(client, "anna", "wrong password!!").status_code == 401
    # Five more failures just now (the 6th attempt only waits 1 s, which a loaded machine can
    # spend between two requests): the delay is now 32 s, longer than any test's pause.
    state = app.extensions["coopfed"]
    with state.session() as s:
        s.add_all(LoginAttempt(key="pair:anna|127.0.0.1") for _ in range(5))
        s.commit()
    # Even the right password is refused while the limit holds.
    refused = post_login(client, "anna")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 20


def test_post_without_csrf_token_is_refused(make_node):
    app = make_node()  # CSRF on, as in production
    add_member(app, "anna")
    client = app.test_client()
    response = client.post("/login", data={"username": "anna", "password": PASSWORD})
    assert response.status_code == 400
    # With the token from the form it works.
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = client.post(
        "/login", data={"username": "anna", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302


def test_admin_pages_are_for_admins_only(app, client):
    add_member(app, "anna")
    add_member(app, "boss", is_admin=True)
    assert client.get("/admin/").status_code == 302  # signed out: to the sign-in page
    sign_in(client, "anna")
    assert client.get("/admin/").status_code == 403
    bob = add_member(app, "bob")
    assert client.post(f"/admin/members/{bob}/delete", data={"confirm": "1"}).status_code == 403
    client.post("/logout")
    sign_in(client, "boss")
    page = client.get("/admin/").get_data(as_text=True)
    assert 'id="btn-admin-anna"' in page
    client.post(f"/admin/members/{bob}/admin", data={"is_admin": "1"})
    assert 'id="btn-unadmin-bob"' in client.get("/admin/").get_data(as_text=True)
    client.post(f"/admin/members/{bob}/delete", data={"confirm": "1"})
    assert client.get("/members/bob").status_code == 404


@pytest.mark.parametrize("lang", ["de", "sv"])
def test_every_page_renders_in_other_languages(app, client, lang):
    add_member(
        app,
        "anna",
        visibility="public",
        skills=[SOUND_MIXING],
        country="SE",
        languages=[("sv", "native")],
    )
    add_member(app, "boss", is_admin=True)
    public_id = add_call(app, "anna", skills_required=[SOUND_MIXING], languages=["sv"])
    headers = {"Accept-Language": lang}
    signed_out = [
        "/",
        "/about",
        "/directory",
        "/directory?skill_q=mix",
        "/calls",
        "/calls?remote=yes&country=SE",
        f"/calls/{public_id}",
        "/members/anna",
        "/login",
    ]
    for url in signed_out:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, url
        assert f'<html lang="{lang}">' in response.get_data(as_text=True), url
    sign_in(client, "boss")
    signed_in = [
        "/",
        "/profile/edit",
        "/calls/new",
        f"/calls/{public_id}/edit",
        f"/calls/{public_id}/delete",
        "/admin/",
        "/members/boss",
    ]
    for url in signed_in:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, url
    # The concept is labelled in the viewer's language, not in English.
    state = app.extensions["coopfed"]
    with state.session() as s:
        label = state.vocabulary.get(s).label(SOUND_MIXING, lang)
    page = client.get("/members/anna", headers=headers).get_data(as_text=True)
    assert label in page


def test_about_names_the_esco_version(app, client):
    page = client.get("/about").get_data(as_text=True)
    assert "ESCO – © European Union" in page
    assert re.search(r'id="esco-version">[^<]*ESCO', page)


def test_every_input_has_a_label(app, client):
    add_member(app, "anna")
    sign_in(client, "anna")
    for url in ["/profile/edit", "/calls/new", "/directory", "/calls"]:
        page = client.get(url).get_data(as_text=True)
        ids = re.findall(
            r'<(?:input|select|textarea)(?![^>]*type="(?:hidden|submit)")[^>]*\bid="([^"]+)"', page
        )
        inputs = re.findall(
            r'<(?:input|select|textarea)(?![^>]*type="(?:hidden|submit)")[^>]*>', page
        )
        assert len(ids) == len(inputs), url  # every input has an id …
        for input_id in ids:  # … and a label for it
            assert f'for="{input_id}"' in page, (url, input_id)
