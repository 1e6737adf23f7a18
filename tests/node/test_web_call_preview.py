"""Issue 11, the call form: required skills written as free text are checked before saving
(what was understood as which concept, what was not, concepts to pick), the author's choices
are stored as the importer stores phrases, and the matchmaker uses them."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from profiles.members import ProfileData, create_member
from profiles.models import Call

PASSWORD = "a long enough password"
ESCO = "http://data.europa.eu/esco/skill/"
# Shipped vocabulary: de "Förderanträge verwalten" / sv "bidragsansökningar" / en "manage grant
# applications"; de "Buchhaltung"; de "Videoschnitt".
GRANTS = ESCO + "4f22e52e-5714-4de1-88f7-b3cdbb4f184e"
ACCOUNTING = ESCO + "880c54f9-866e-4f37-b5fa-25ef8a7d49b6"
VIDEO_EDITING = ESCO + "5ce80f97-b385-4a41-9339-a6593d0709c1"
GRANT_LINE = "Fördermittelanträge für Creative Europe schreiben"
CUTTING_LINE = "Schnitt von Dokumentarfilmen"  # the linker only proposes film editing
FILM_EDITING = ESCO + "9ce52938-fe28-4548-b38d-0c783933e19a"


@pytest.fixture
def app(make_node):
    app = make_node(domain="smart.de", name="Smart Deutschland", country="DE")
    app.config["WTF_CSRF_ENABLED"] = False
    add_member(app, "autorin", ["de"], password=PASSWORD)
    add_member(app, "sara", ["sv", "de"], skills=[GRANTS])  # what the author will pick
    add_member(app, "otto", ["de"], skills=[VIDEO_EDITING])
    return app


def add_member(app, username, langs, skills=(), password=None):
    state = app.extensions["coopfed"]
    with state.session() as s:
        create_member(
            s,
            state.ctx,
            username=username,
            password=password,  # hashing costs ~1 s: only for the one who signs in
            profile=ProfileData(
                name=username.title(),
                country="DE",
                visibility="partners",
                languages=[(code, "C1") for code in langs],
                skills=list(skills),
            ),
            vocab=state.vocabulary.get(s),
        )
        s.commit()


@pytest.fixture
def author(client):
    response = client.post("/login", data={"username": "autorin", "password": PASSWORD})
    assert response.status_code == 302
    client.get("/?lang=de")  # the German UI, remembered in the session
    return client


def form(**overrides):
    data = {
        "title": "Antrag für eine Tournee",
        "description": "Wir brauchen Hilfe beim Antrag.",
        "language": "de",
        "languages": ["de"],
        "country": "DE",
        "city": "Köln",
        "visibility": "partners",
        "status": "open",
        "said_required": f"Buchhaltung\n{GRANT_LINE}",
        "said_optional": CUTTING_LINE,
        "action": "save",
    }
    data.update(overrides)
    return data


def calls_stored(app):
    with app.extensions["coopfed"].session() as s:
        return s.scalar(select(func.count()).select_from(Call))


def review(page):
    """{line: (verdict class, [radio values], checked value or None)} of the review list."""
    out = {}
    for item in re.findall(r'<li class="(\w+)" id="said-\d+">(.*?)</ul>', page, re.S):
        status, body = item
        text = re.search(r'name="said-\d+-text" value="([^"]*)"', body).group(1)
        values = re.findall(r'name="said-\d+-pick" value="([^"]*)"', body)
        checked = re.search(r'name="said-\d+-pick" value="([^"]*)" checked', body)
        out[text] = (status, values, checked.group(1) if checked else None)
    return out


def pick(page, text, value):
    """The form field that chooses ``value`` for line ``text`` in the rendered review."""
    for i, shown in re.findall(r'name="said-(\d+)-text" value="([^"]*)"', page):
        if shown == text:
            return {
                f"said-{i}-text": text,
                f"said-{i}-required": re.search(
                    rf'name="said-{i}-required" value="(\d)"', page
                ).group(1),
                f"said-{i}-pick": value,
            }
    raise AssertionError(f"{text!r} is not in the review")


def test_check_shows_what_was_understood_and_saves_nothing(app, author):
    response = author.post("/calls/new", data=form(action="check"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert calls_stored(app) == 0
    # Everything typed is still there.
    assert 'value="Antrag für eine Tournee"' in page and "Wir brauchen Hilfe beim Antrag." in page
    assert f">Buchhaltung\n{GRANT_LINE}</textarea>" in page
    got = review(page)
    assert got["Buchhaltung"][0] == "linked" and got["Buchhaltung"][2] == ACCOUNTING
    assert "verstanden als: Buchhaltung" in page
    # Not understood: the best concepts to pick, labelled in German, and "my own words".
    status, values, checked = got[GRANT_LINE]
    assert status == "unlinked" and GRANTS in values[:3] and values[-1] == "own"
    assert "Förderanträge verwalten" in page
    assert "nicht verstanden" in page
    # Low confidence: proposed, for the author to accept.
    status, values, checked = got[CUTTING_LINE]
    # By words "Schnitt" (video editing) scores best; by meaning, film editing comes first.
    assert status == "proposed" and values[0] == FILM_EDITING and checked is None
    assert VIDEO_EDITING in values
    assert "vielleicht Filmschnitt?" in page


def test_picked_concepts_are_stored_and_used_by_the_matches(app, author):
    page = author.post("/calls/new", data=form(action="check")).get_data(as_text=True)
    choices = {**pick(page, GRANT_LINE, GRANTS), **pick(page, CUTTING_LINE, "own")}
    response = author.post("/calls/new", data=form(**choices))
    assert response.status_code == 302
    public_id = response.headers["Location"].rsplit("/", 1)[-1]
    state = app.extensions["coopfed"]
    with state.session() as s:
        call = s.scalar(select(Call).where(Call.public_id == public_id))
        stored = [(p.required, p.text, p.lang, p.concept_iri, p.status) for p in call.phrases]
        assert stored == [
            (True, "Buchhaltung", "de", ACCOUNTING, "linked"),
            (True, GRANT_LINE, "de", GRANTS, "linked"),
            (False, CUTTING_LINE, "de", None, "unlinked"),
        ]
        assert call.required_skills == [ACCOUNTING, GRANTS] and call.optional_skills == []
        found = state.matching.call_matches(s, call).matches
        sara = next(m for m in found if m.member.username == "sara")
        held = {r.code: r.concepts for r in sara.suggestion.reasons}
        assert GRANTS in held["covers_required"]
    # The call page's section says what became of each line.
    page = author.get(f"/calls/{public_id}").get_data(as_text=True)
    assert "verstanden als: Förderanträge verwalten" in page
    assert f'href="/calls/{public_id}/edit#said-review"' in page


def test_accepting_a_proposal_links_it(app, author):
    page = author.post("/calls/new", data=form(action="check")).get_data(as_text=True)
    response = author.post("/calls/new", data=form(**pick(page, CUTTING_LINE, VIDEO_EDITING)))
    assert response.status_code == 302
    with app.extensions["coopfed"].session() as s:
        call = s.scalar(select(Call))
        assert call.optional_skills == [VIDEO_EDITING]
        assert {p.text: p.status for p in call.phrases}[CUTTING_LINE] == "linked"


def test_saving_without_checking_stores_every_line_as_the_importer_would(app, author):
    assert author.post("/calls/new", data=form()).status_code == 302
    with app.extensions["coopfed"].session() as s:
        call = s.scalar(select(Call))
        got = {p.text: (p.concept_iri, p.status) for p in call.phrases}
        assert got == {
            "Buchhaltung": (ACCOUNTING, "linked"),
            GRANT_LINE: (None, "unlinked"),
            CUTTING_LINE: (FILM_EDITING, "proposed"),  # weaker evidence until confirmed
        }
        assert call.required_skills == [ACCOUNTING] and call.optional_skills == []
        public_id = call.public_id
    page = author.get(f"/calls/{public_id}").get_data(as_text=True)
    assert "nicht als Kompetenz verstanden" in page


def test_editing_keeps_the_lines_and_what_was_chosen(app, author):
    page = author.post("/calls/new", data=form(action="check")).get_data(as_text=True)
    response = author.post("/calls/new", data=form(**pick(page, GRANT_LINE, GRANTS)))
    public_id = response.headers["Location"].rsplit("/", 1)[-1]
    edit = author.get(f"/calls/{public_id}/edit").get_data(as_text=True)
    assert (
        f">Buchhaltung\n{GRANT_LINE}</textarea>" in edit and f">{CUTTING_LINE}</textarea>" in edit
    )
    got = review(edit)
    assert got[GRANT_LINE][0] == "linked" and got[GRANT_LINE][2] == GRANTS
    assert got[CUTTING_LINE][0] == "proposed"
    # The concept of a line is shown with the line, not again in the picker.
    assert f'name="skills_required" value="{GRANTS}"' not in edit
    # Save the edit as a browser would: the review's checked radios travel with the form.
    kept = {}
    for text, (_, _, checked) in got.items():
        if checked:
            kept.update(pick(edit, text, checked))
    response = author.post(f"/calls/{public_id}/edit", data=form(title="Zweiter Antrag", **kept))
    assert response.status_code == 302
    with app.extensions["coopfed"].session() as s:
        call = s.scalar(select(Call))
        assert call.title == "Zweiter Antrag"
        got = {p.text: (p.concept_iri, p.status) for p in call.phrases}
        assert got[GRANT_LINE] == (GRANTS, "linked")
        assert got[CUTTING_LINE] == (FILM_EDITING, "proposed")
        assert set(call.required_skills) == {ACCOUNTING, GRANTS}
    # Deleting a line removes its concept.
    response = author.post(
        f"/calls/{public_id}/edit", data=form(said_required="Buchhaltung", said_optional="")
    )
    assert response.status_code == 302
    with app.extensions["coopfed"].session() as s:
        call = s.scalar(select(Call))
        assert [p.text for p in call.phrases] == ["Buchhaltung"]
        assert call.required_skills == [ACCOUNTING]


def test_a_choice_belongs_to_its_line_not_to_its_position(app, author):
    page = author.post("/calls/new", data=form(action="check")).get_data(as_text=True)
    choice = pick(page, GRANT_LINE, GRANTS)
    # The author rewrites the line before saving: the old choice does not move to another line.
    response = author.post(
        "/calls/new", data=form(said_required="Buchhaltung\nAnträge für Festivals", **choice)
    )
    assert response.status_code == 302
    with app.extensions["coopfed"].session() as s:
        call = s.scalar(select(Call))
        assert GRANTS not in call.required_skills
        assert {p.text for p in call.phrases} == {
            "Buchhaltung",
            "Anträge für Festivals",
            CUTTING_LINE,
        }


def test_too_many_or_too_long_lines_are_refused_and_nothing_is_lost(app, author):
    many = "\n".join(f"Fähigkeit Nummer {i}" for i in range(31))
    response = author.post("/calls/new", data=form(said_required=many, action="save"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="said_required-error"' in page and "Höchstens 30" in page
    assert f">{many}</textarea>" in page and 'value="Antrag für eine Tournee"' in page
    long_line = "Sehr " * 60 + "lange Zeile"
    response = author.post(
        "/calls/new",
        data=form(
            said_optional=long_line,
            action="check",
            **{
                "said-0-text": GRANT_LINE,
                "said-0-required": "1",
                "said-0-pick": GRANTS,
            },
        ),
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="said_optional-error"' in page and "255" in page
    assert f">{long_line}</textarea>" in page
    # The choice already made travels on, hidden, until the lines are fixed.
    assert f'name="said-0-pick" value="{GRANTS}"' in page
    assert calls_stored(app) == 0
