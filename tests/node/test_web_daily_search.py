"""Call search: keywords in title, city or description (accent- and case-insensitive, any
language), skills typed as text in any language, together with the other filters; and the
migration that makes existing calls searchable."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from profiles.calls import CallData, create_call
from profiles.members import ProfileData, create_member, get_local
from profiles.models import Call
from profiles.search import fold, keywords

SOUND_MIXING = "http://data.europa.eu/esco/skill/72812eb6-5a0f-48e8-815d-3d2a16b8e963"


def add_call(app, **fields):
    state = app.extensions["coopfed"]
    with state.session() as s:
        author = get_local(s, state.ctx, "anna")
        fields.setdefault("country", "SE")
        fields.setdefault("visibility", "public")
        call = create_call(s, state.ctx, author, CallData(**fields), state.vocabulary.get(s))
        s.commit()
        return call.public_id


@pytest.fixture
def search_app(app):
    state = app.extensions["coopfed"]
    with state.session() as s:
        create_member(
            s,
            state.ctx,
            username="anna",
            password="a long enough password",
            profile=ProfileData(name="Anna"),
            vocab=state.vocabulary.get(s),
        )
        s.commit()
    add_call(app, title="Éclairage pour un festival", country="FR", city="Lyon")
    add_call(app, title="Großes Konzert", description="<p>Wir suchen <b>Tontechnik</b>.</p>")
    add_call(
        app,
        title="Sound for a theatre tour",
        skills_required=[SOUND_MIXING],
        description="Mixing a 50% share_of the tour",
    )
    add_call(app, title="Ljussättning i Malmö", city="Malmö", description="Scen och ljus")
    return app


def titles(client, query):
    page = client.get(f"/calls?{query}").get_data(as_text=True)
    results = page.split('id="results"', 1)[1]
    return sorted(re.findall(r'<a href="/calls/[^"]+">([^<]+)</a>', results))


def test_fold_drops_case_and_accents_in_every_language():
    assert fold("ÉCLAIRAGE Großes Ljussättning Ørsted Œuvre") == (
        "eclairage grosses ljussattning orsted oeuvre"
    )
    assert keywords("  Malmö   LJUS ") == ["malmo", "ljus"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=eclairage", ["Éclairage pour un festival"]),
        ("q=ÉCLAIRAGE", ["Éclairage pour un festival"]),
        ("q=grosses", ["Großes Konzert"]),
        ("q=tontechnik", ["Großes Konzert"]),  # in the description, under tags
        ("q=malmo", ["Ljussättning i Malmö"]),  # the city
        ("q=ljus+scen", ["Ljussättning i Malmö"]),  # every word, anywhere
        ("q=ljus+konzert", []),
        ("q=50%25", ["Sound for a theatre tour"]),  # LIKE wildcards are literal
        ("q=50_", []),
        ("q=festival&country=FR", ["Éclairage pour un festival"]),
        ("q=festival&country=SE", []),
        ("skill_q=Mischpult", ["Sound for a theatre tour"]),  # a German skill name, English UI
        ("skill_q=Mischpult&q=tour", ["Sound for a theatre tour"]),
        ("skill_q=Mischpult&q=konzert", []),
        (f"skill={SOUND_MIXING}", ["Sound for a theatre tour"]),
    ],
)
def test_keyword_and_skill_search_with_the_other_filters(search_app, client, query, expected):
    assert titles(client, query) == expected


def test_skill_text_shows_the_skills_it_matched(search_app, client):
    page = client.get("/calls?skill_q=Mischpult").get_data(as_text=True)
    matches = page.split('id="skill-matches"', 1)[1].split("</p>", 1)[0]
    assert "skill=http" in matches  # one link per concept, to narrow to it
    page = client.get("/calls?skill_q=xyzzyq").get_data(as_text=True)
    assert "No skill matches" in page and "0 open calls" in page


def test_an_edit_refreshes_the_search_text(search_app, client):
    state = search_app.extensions["coopfed"]
    with state.session() as s:
        call = s.scalar(select(Call).where(Call.title == "Großes Konzert"))
        assert "tontechnik" in call.search_text and "<b>" not in call.search_text


def test_migration_folds_existing_calls(throwaway_db):
    from alembic import command

    from node import db as node_db

    engine = throwaway_db("daily_search").engine
    command.upgrade(node_db.alembic_config(engine), "2026_11_29_0400")
    # The rows as the previous revision stores them (every NOT NULL column filled).
    with engine.begin() as conn:
        for table, values in (
            ("members", {"id": 1, "ap_id": "https://x/m/a", "node": "x", "username": "a"}),
            (
                "calls",
                {
                    "id": 1,
                    "ap_id": "https://x/c/1",
                    "public_id": "p1",
                    "node": "x",
                    "author_id": 1,
                    "title": "Éclairage",
                    "city": "Lyon",
                    "description": "<p>Grand <b>Été</b></p>",
                },
            ),
        ):
            _insert(engine, conn, table, values)
    node_db.upgrade(engine)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT search_text FROM calls")) == "eclairage lyon grand ete"


def _insert(engine, conn, table, values):
    from datetime import UTC, datetime

    from sqlalchemy import Boolean, DateTime, Integer, inspect

    for column in inspect(engine).get_columns(table):
        if column["name"] in values or column["nullable"] or column.get("default"):
            continue
        kind = column["type"]
        values[column["name"]] = (
            False
            if isinstance(kind, Boolean)
            else 0
            if isinstance(kind, Integer)
            else datetime.now(UTC)
            if isinstance(kind, DateTime)
            else "x"
        )
    names = ", ".join(values)
    params = ", ".join(f":{k}" for k in values)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({params})"), values)
