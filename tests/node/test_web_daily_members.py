"""Members' daily pages: an inverted availability period is an error, a new member's home
says that skills make matching work, the live skill picker is told which languages to offer."""

from __future__ import annotations

import pytest

from profiles.members import ProfileData, create_member

PASSWORD = "a long enough password"
SOUND_MIXING = "http://data.europa.eu/esco/skill/72812eb6-5a0f-48e8-815d-3d2a16b8e963"


@pytest.fixture
def site(app):
    app.config["WTF_CSRF_ENABLED"] = False
    state = app.extensions["coopfed"]
    with state.session() as s:
        vocab = state.vocabulary.get(s)
        create_member(s, state.ctx, username="newbie", password=PASSWORD)
        create_member(
            s,
            state.ctx,
            username="anna",
            password=PASSWORD,
            vocab=vocab,
            profile=ProfileData(
                name="Anna",
                skills=[SOUND_MIXING],
                visibility="partners",
                languages=[("sv", "native"), ("fr", "B2")],
            ),
        )
        s.commit()
    return app


def _signed_in(app, username):
    client = app.test_client()
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302
    return client


def test_an_inverted_availability_period_is_an_error(site):
    client = _signed_in(site, "anna")
    ok = client.get("/directory?available_from=2031-05-01&available_until=2031-06-01")
    assert ok.status_code == 200
    r = client.get("/directory?available_from=2031-06-01&available_until=2031-05-01")
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="available_until-error"' in page
    assert (
        "The period ends before it starts." in page and "Anna" not in page.split('id="results"')[-1]
    )
    german = client.get("/directory?available_from=2031-06-01&available_until=2031-05-01&lang=de")
    assert "Der Zeitraum endet, bevor er beginnt." in german.get_data(as_text=True)


def test_a_new_members_home_guides_to_skills_and_availability(site):
    page = _signed_in(site, "newbie").get("/").get_data(as_text=True)
    assert 'id="getting-started"' in page
    assert 'id="link-add-skills" href="/profile/edit#skills-picker"' in page
    assert 'id="link-add-availability"' in page
    assert 'id="getting-started"' not in _signed_in(site, "anna").get("/").get_data(as_text=True)


def test_the_live_picker_offers_the_ui_language_and_the_members_languages(site):
    page = _signed_in(site, "anna").get("/profile/edit?lang=de").get_data(as_text=True)
    assert 'data-langs="de fr sv"' in page


def test_directory_radios_sit_with_their_labels():
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "node/static/style.css").read_text()
    assert ".filters select, .filters input { width: 100%; }" not in css  # radios were stretched
    assert "ul.suggestions" in css and "position: absolute" in css
