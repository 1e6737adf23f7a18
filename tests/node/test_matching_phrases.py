"""Issue 11 on a node: imported free text is kept and shown, matched across languages, and
the call's author is told what was not understood; reasons read in the viewer's language."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from profiles import importers
from profiles import members as member_service
from profiles.models import Call, Member, MemberPhrase

PASSWORD = "a long enough password"


def _state(app):
    return app.extensions["coopfed"]


def run(app, kind, records):
    state = _state(app)
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    with state.session() as s:
        fn = importers.import_members if kind == "members" else importers.import_calls
        return fn(s, state.ctx, state.vocabulary.get(s), lines)


def person(username, langs, skills=(), occupations=()):
    return {
        "username": username,
        "email": f"{username}@example.be",
        "country": "BE",
        "languages": [{"code": c, "level": lvl} for c, lvl in langs],
        "skills": list(skills),
        "occupations": list(occupations),
        "visibility": "partners",
    }


@pytest.fixture
def app(make_node):
    app = make_node(domain="smart.be", name="Smart Belgium", country="BE")
    app.config["WTF_CSRF_ENABLED"] = False
    report = run(
        app,
        "members",
        [
            person("auteur", [("de", "native"), ("en", "C1")]),
            person("karin", [("sv", "native"), ("de", "B2")], skills=["bokföring", "kamerajobb"]),
            person(
                "lea",
                [("en", "C1"), ("fr", "native"), ("de", "B2")],
                skills=["tenue de la comptabilité"],
            ),
            person("noa", [("nl", "native"), ("de", "C1")], occupations=["cameraman"]),
            person("otto", [("de", "native")], skills=["Tanz"]),
        ],
    )
    assert report.stored == 5, report.skipped
    state = _state(app)
    with state.session() as s:
        author = s.scalar(select(Member).where(Member.username == "auteur"))
        member_service.set_password(author, PASSWORD)
        s.commit()
    call = {
        "ref": "c1",
        "author": "auteur",
        "title": "Buchhaltung für unser Kollektiv",
        "country": "BE",
        "language": "de",
        "languages": ["de"],
        "skills_required": ["Buchhaltung", "Antragsprosa für Kulturstiftungen"],
    }
    camera = {**call, "ref": "c2", "title": "Dreh", "skills_required": ["Kamera bedienen"]}
    assert run(app, "calls", [call, camera]).stored == 2
    return app


def test_every_phrase_is_stored_with_its_language(app):
    with _state(app).session() as s:
        rows = s.scalars(select(MemberPhrase).join(Member).where(Member.username == "karin")).all()
        got = {(p.text, p.lang, p.status) for p in rows}
    assert ("bokföring", "sv", "linked") in got
    assert any(text == "kamerajobb" and status != "linked" for text, _, status in got)


def test_profile_shows_the_members_own_words(app):
    client = app.test_client()
    client.post("/login", data={"username": "auteur", "password": PASSWORD})
    response = client.get("/members/karin")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "kamerajobb" in page and "bokföring" in page


def call_matches(app, ref):
    state = _state(app)
    with state.session() as s:
        call = s.scalar(select(Call).where(Call.ref == ref))
        found = state.matching.call_matches(s, call)
        return [m.member.username for m in found.matches], found


def test_free_text_call_finds_other_languages_and_not_the_dancer(app):
    names, _ = call_matches(app, "c1")
    assert {"karin", "lea"} <= set(names)
    assert "otto" not in names


def test_an_occupation_counts_for_the_skill_it_implies(app):
    names, found = call_matches(app, "c2")
    assert names[0] == "noa"
    assert "implied_skill" in {r.code for r in found.matches[0].suggestion.reasons}


def test_the_author_sees_what_was_not_understood(app):
    client = app.test_client()
    with _state(app).session() as s:
        public_id = s.scalar(select(Call.public_id).where(Call.ref == "c1"))
    anonymous = client.get(f"/calls/{public_id}").get_data(as_text=True)
    assert "Antragsprosa" not in anonymous
    client.post("/login", data={"username": "auteur", "password": PASSWORD})
    page = client.get(f"/calls/{public_id}?lang=de").get_data(as_text=True)
    assert "Antragsprosa für Kulturstiftungen" in page
    assert "nicht als Kompetenz verstanden" in page or "not understood" in page
    assert "Buchhaltung" in page


def test_language_pairs_are_normalised():
    from profiles.match_data import normalise_pairs, pairs

    assert normalise_pairs("DE>sv, en→sv  nonsense x>y de>sv") == "de>sv en>sv"
    assert pairs("de>sv en>sv") == {("de", "sv"), ("en", "sv")}
    assert len(normalise_pairs(" ".join(f"a{c}>b{c}" for c in "abcdefghijklmnop"))) <= 64


def test_all_languages_and_pairs_filter_on_a_node(app):
    state = _state(app)
    with state.session() as s:
        call = s.scalar(select(Call).where(Call.ref == "c1"))
        call.languages_all = True
        call.language_pairs = "sv>de"
        karin = s.scalar(select(Member).where(Member.username == "karin"))
        karin.language_pairs = "sv>de"
        s.commit()
    names, found = call_matches(app, "c1")
    # lea writes French and speaks German but states no pair; karin translates sv>de.
    assert names == ["karin"]
    assert "language_pair" in {r.code for r in found.matches[0].suggestion.reasons}


def test_the_forms_offer_the_language_rules(app):
    client = app.test_client()
    client.post("/login", data={"username": "auteur", "password": PASSWORD})
    with _state(app).session() as s:
        public_id = s.scalar(select(Call.public_id).where(Call.ref == "c1"))
    page = client.get(f"/calls/{public_id}/edit").get_data(as_text=True)
    assert 'name="languages_all"' in page and 'name="language_pairs"' in page
    profile = client.get("/profile/edit").get_data(as_text=True)
    assert 'name="language_pairs"' in profile


def test_members_confirm_or_reject_what_the_import_proposed(make_node):
    app = make_node(domain="smart.nl", name="Smart NL", country="NL")
    app.config["WTF_CSRF_ENABLED"] = False
    nina = person("nina", [("nl", "native")], skills=["videoprojectie", "geluidsmixage live"])
    assert run(app, "members", [nina]).stored == 1
    state = _state(app)
    with state.session() as s:
        member = s.scalar(select(Member).where(Member.username == "nina"))
        member_service.set_password(member, PASSWORD)
        proposed = [p for p in member.phrases if p.status == "proposed"]
        assert proposed, [(p.text, p.status) for p in member.phrases]
        ids = {p.text: p.id for p in member.phrases}
        iri = proposed[0].concept_iri
        s.commit()
    client = app.test_client()
    client.post("/login", data={"username": "nina", "password": PASSWORD})
    home = client.get("/?lang=nl").get_data(as_text=True)
    assert 'id="proposals-notice"' in home  # on the next sign-in, a pointer to the review
    page = client.get("/profile/edit?lang=nl").get_data(as_text=True)
    assert "Hebben we je goed begrepen?" in page and proposed[0].text in page
    form = {
        "name": "Nina",
        "country": "NL",
        "visibility": "partners",
        "language_code": ["nl"],
        "language_level": ["native"],
        "action": "save",
        f"phrase-{ids[proposed[0].text]}": "yes",
    }
    assert client.post("/profile/edit", data=form).status_code in (302, 303)
    with state.session() as s:
        member = s.scalar(select(Member).where(Member.username == "nina"))
        held = {c.concept_iri for c in member.skills} | {c.concept_iri for c in member.occupations}
        assert iri in held
        assert {p.text: p.status for p in member.phrases}[proposed[0].text] == "linked"
    still = any(p.status == "proposed" for p in proposed[1:])
    assert ('id="proposals-notice"' in client.get("/").get_data(as_text=True)) == still


@pytest.mark.parametrize("lang", ["de", "sv", "fr", "nl", "it", "es"])
def test_new_reasons_read_in_every_language(app, lang):
    import matchmaking as mm
    from node.reasons import render

    state = _state(app)
    with state.session() as s:
        vocab = state.vocabulary.get(s)
    occ = next(i for i, k in vocab.kinds.items() if k == "occupation" and i in vocab.implies)
    skill = min(vocab.implies[occ])
    reasons = (
        mm.Reason("implied_skill", (skill, occ)),
        mm.Reason("wrote", values=("kamerajobb", "Kameraarbeit")),
        mm.Reason("language_pair", values=("de", "sv")),
    )
    with app.test_request_context():
        english = render(reasons, vocab, "en", "candidate")
        mine = render(reasons, vocab, lang, "candidate")
        yours = render(reasons, vocab, lang, "self")
    for theirs, ours in zip(english, mine, strict=True):
        assert theirs != ours  # translated, not the English fallback
    assert vocab.label(skill, lang) in mine[0] and vocab.label(occ, lang) in mine[0]
    assert "kamerajobb" in mine[1]
    if lang == "de":
        assert "„kamerajobb“" in mine[1]  # German quotation marks
    assert len(set(mine) & set(yours)) == 0  # the member reads their own perspective
