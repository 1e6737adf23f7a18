"""Language rules in import files: `coopfed import members|calls FILE` and the register sync
(JSON Lines and CSV) store translators' pairs and a call's "every language" rule; a bad pair
fails its own line with the reason and line number, and every other line is stored."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import select

from node.cli.imports import import_
from profiles.calls import call_data
from profiles.members import profile_data
from profiles.models import Call, Member


def write(tmp_path, name, records):
    path = tmp_path / name
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records)
        + "\n",
        encoding="utf-8",
    )
    return path


def cli(state, *args):
    out = CliRunner().invoke(import_, list(args), obj={"state": state})
    assert out.exit_code == 0, out.output + repr(out.exception)
    return out.output


def member(username, pairs=None, **extra):
    line = {
        "username": username,
        "email": f"{username}@example.dk",
        "country": "DK",
        "languages": [{"code": "da", "level": "native"}, {"code": "de", "level": "C1"}],
        **extra,
    }
    if pairs is not None:
        line["language_pairs"] = pairs
    return line


def stored(state):
    with state.session() as s:
        rows = s.scalars(select(Member).where(Member.local)).all()
        return {m.username: profile_data(m).language_pairs for m in rows}


def test_members_and_calls_files_carry_language_rules(make_node, tmp_path):
    app = make_node(domain="smart.dk", name="Smart Danmark", country="DK")
    state = app.extensions["coopfed"]
    members = write(
        tmp_path,
        "members.jsonl",
        [
            member("freja", ["de>da", {"source": "da", "target": "de"}]),
            member("jonas", ["da>da"]),  # line 2: the same language twice
            member("ida", ["DA → EN"]),
            member("mads", [{"source": "da", "target": "klingon"}]),  # line 4
            member("sofie"),
        ],
    )
    out = cli(state, "members", str(members))
    assert "3 members stored, 2 lines skipped" in out
    assert "line 2: language_pairs: da>da: source and target are the same language" in out
    assert "line 4: language_pairs: unknown language code 'klingon'" in out
    assert stored(state) == {
        "freja": [("da", "de"), ("de", "da")],
        "ida": [("da", "en")],
        "sofie": [],
    }

    calls = write(
        tmp_path,
        "calls.jsonl",
        [
            {
                "ref": "tolk-1",
                "author": "freja",
                "title": "Tolk til en messe i Hamburg",
                "country": "DE",
                "languages": ["da", "de"],
                "languages_all": True,
                "language_pairs": ["da>de"],
            },
            {"ref": "tolk-2", "author": "freja", "title": "x", "country": "DE", "languages_all": 1},
            {
                "ref": "tolk-3",
                "author": "freja",
                "title": "Oversættelse af en katalog",
                "country": "DK",
                "language_pairs": "da>de",  # a list is expected
            },
        ],
    )
    out = cli(state, "calls", str(calls))
    assert "1 calls stored, 2 lines skipped" in out
    assert "line 2: languages_all: true or false expected" in out
    assert "line 3: language_pairs: a list expected" in out
    with state.session() as s:
        data = call_data(s.scalar(select(Call).where(Call.ref == "tolk-1")))
    assert data.languages_all is True and data.language_pairs == [("da", "de")]


def test_the_register_sync_reads_pairs_from_csv_and_keeps_them_when_absent(make_node, tmp_path):
    app = make_node(domain="smart.dk", name="Smart Danmark", country="DK")
    state = app.extensions["coopfed"]
    register = tmp_path / "register.csv"
    register.write_text(
        "ref,username,email,languages,language_pairs\n"
        "1001,freja,freja@example.dk,da:native;de:C1,de>da;da>de\n"
        "1002,jonas,jonas@example.dk,da:native,da>da\n"
        "1003,ida,ida@example.dk,da:native;en:C2,\n",
        encoding="utf-8",
    )
    out = cli(state, "members", str(register))
    assert "line 3: language_pairs: da>da: source and target are the same language" in out
    assert stored(state) == {"freja": [("da", "de"), ("de", "da")], "ida": []}

    # The next register file has no pairs column: what members stated stays.
    register.write_text(
        "ref,username,email,city\n1001,freja,freja@example.dk,Aarhus\n", encoding="utf-8"
    )
    cli(state, "members", str(register))
    assert stored(state)["freja"] == [("da", "de"), ("de", "da")]
    # A JSON Lines update with other pairs replaces them.
    update = write(
        tmp_path,
        "update.jsonl",
        [{"ref": "1001", "username": "freja", "language_pairs": ["de>da"]}],
    )
    cli(state, "members", str(update), "--update")
    assert stored(state)["freja"] == [("de", "da")]
