"""Bulk import of members and calls (profiles.importers): bad lines alone are skipped, free text
is linked or reported, and a generated file imports whole but for its bad line (how fast
10,000 lines import: bench/bench_import.py)."""

from __future__ import annotations

import importlib.util
import json

from sqlalchemy import func, select

from federation.models import Delivery, Follower, OutboxActivity
from profiles import importers
from profiles.models import Call, Member, MemberConcept, MemberPhrase
from profiles.vocabulary import load_curated_file
from tests.conftest import REPO


def _curated(kind: str, lang: str) -> tuple[str, str]:
    for c in load_curated_file()["concepts"]:
        if c["kind"] == kind and lang in c["labels"]:
            return c["iri"], c["labels"][lang]["preferred"]
    raise AssertionError(kind)


SKILL, SKILL_DE = _curated("skill", "de")
OCCUPATION, OCCUPATION_FR = _curated("occupation", "fr")


def run(app, kind, lines, **kw):
    state = app.extensions["coopfed"]
    with state.session() as s:
        fn = importers.import_members if kind == "members" else importers.import_calls
        return fn(s, state.ctx, state.vocabulary.get(s), lines, **kw)


def member(**fields):
    record = {
        "username": "anna",
        "email": "anna@example.se",
        "country": "SE",
        "languages": [{"code": "de", "level": "native"}],
    }
    record.update(fields)
    return json.dumps(record, ensure_ascii=False)


def test_bad_lines_are_reported_and_the_rest_stored(make_node):
    app = make_node()
    lines = [
        member(
            username="anna",
            skills=[SKILL, SKILL_DE, "zzqx unbekannte Fähigkeit"],
            occupations=[OCCUPATION],
        ),  # 1 ok
        '{"username": "broken", ',  # 2 bad JSON
        "",  # 3 blank: ignored
        member(username="anna", email="other@example.se"),  # 4 duplicate
        member(username="bo", email="bo@example.se", country="XX"),  # 5 bad country
        member(
            username="cy",
            email="cy@example.se",
            skills=["http://data.europa.eu/esco/skill/not-there"],
        ),  # 6 unknown IRI
        member(username="di", email="di@example.se", skils=["x"]),  # 7 unknown field
        member(username="ed", email="ed@example.se", skills="music"),  # 8 not a list
        member(username="fa", email="fa@example.se", skills=["x"] * 61),  # 9 too many
        member(username="gu", email="gu@example.se", summary="x" * 70_000),  # 10 too long
        member(username="Bad Name!", email="h@example.se"),  # 11 bad username
        member(username="hu", email="anna@example.se"),  # 12 duplicate e-mail
        "[1, 2]",  # 13 not an object
        member(username="iv", email="iv@example.se", remote="yes"),  # 14 bad type
        member(username="jo", email="jo@example.se", available_from="2025-01-01"),  # 15
        member(username="ka", email="ka@example.se", visibility="secret"),  # 16 bad visibility
        member(username="li", email="li@example.se", occupations=[SKILL]),  # 17 wrong kind
        member(
            username="mo",
            email=None,
            languages=[{"code": "fr", "level": "B2"}],
            occupations=[OCCUPATION_FR],
            visibility="public",
        ),  # 18 ok
    ]
    result = run(app, "members", lines, batch_size=3)
    assert result.stored == 2
    reasons = dict(result.skipped)
    assert sorted(reasons) == [2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]
    assert reasons[2].startswith("bad JSON")
    assert "duplicate username 'anna'" in reasons[4]
    assert "country" in reasons[5] and "XX" in reasons[5]
    assert "not-there" in reasons[6]
    assert "unknown field 'skils'" in reasons[7]
    assert "skills: a list expected" in reasons[8]
    assert "at most 60" in reasons[9]
    assert "64 KiB" in reasons[10]
    assert reasons[11].startswith("username:")
    assert "duplicate e-mail" in reasons[12]
    assert "JSON object" in reasons[13]
    assert "remote" in reasons[14]
    assert "available_until" in reasons[15]
    assert "visibility" in reasons[16]
    assert "occupation" in reasons[17]
    report = result.to_json()
    assert {"text": "zzqx unbekannte Fähigkeit", "lang": "de", "kind": "skill", "count": 1} in (
        report["unlinked"]
    )
    linked = {item["text"]: item for item in report["linked"]}
    assert linked[SKILL_DE]["iri"] == SKILL and linked[OCCUPATION_FR]["iri"] == OCCUPATION
    assert result.without_password == 2

    state = app.extensions["coopfed"]
    with state.session() as s:
        anna = s.scalar(select(Member).where(Member.username == "anna"))
        assert anna.password_hash is None and anna.email == "anna@example.se"
        # The IRI and its German label are one concept: stored once, no free text anywhere.
        assert [c.concept_iri for c in anna.skills] == [SKILL]
        assert [c.concept_iri for c in anna.occupations] == [OCCUPATION]
        assert s.scalar(select(func.count()).select_from(Member)) == 2
        assert all(
            iri.startswith("http://data.europa.eu/esco/")
            for iri in s.scalars(select(MemberConcept.concept_iri))
        )


def test_linked_and_unlinked_text_is_aggregated(make_node):
    app = make_node()
    lines = [
        member(username=f"m{n}", email=f"m{n}@example.se", skills=[SKILL_DE, "qqq zzz"])
        for n in range(5)
    ]
    report = run(app, "members", lines).to_json()
    assert report["stored"] == 5
    assert report["unlinked"] == [{"text": "qqq zzz", "lang": "de", "kind": "skill", "count": 5}]
    assert [(i["text"], i["count"]) for i in report["linked"]] == [(SKILL_DE, 5)]


def test_calls_import(make_node):
    app = make_node()
    assert run(app, "members", [member(username="pia", email="pia@example.se")]).stored == 1
    call = {
        "ref": "crm-1",
        "author": "pia",
        "title": "Stage light",
        "country": "SE",
        "language": "fr",
        "skills_required": [OCCUPATION_FR, SKILL],
        "languages": ["fr"],
        "starts": "2025-06-01",
        "ends": "2025-06-30",
        "deadline": "2025-05-01",
    }
    lines = [
        json.dumps(call),
        json.dumps({**call, "title": "again"}),  # 2 duplicate ref
        json.dumps({**call, "ref": "crm-3", "author": "nobody"}),  # 3 unknown author
        json.dumps({**call, "ref": "crm-4", "title": ""}),  # 4 no title
        json.dumps({**call, "ref": "crm-5", "ends": "2025-05-01"}),  # 5 ends before start
        json.dumps({**call, "ref": None, "remote": True, "country": ""}),  # 6 ok, no ref
        "not json",  # 7
    ]
    result = run(app, "calls", lines)
    assert result.stored == 2
    reasons = dict(result.skipped)
    assert sorted(reasons) == [2, 3, 4, 5, 7]
    assert "duplicate ref 'crm-1'" in reasons[2]
    assert "unknown author 'nobody'" in reasons[3]
    assert "title" in reasons[4]
    assert "ends" in reasons[5]
    state = app.extensions["coopfed"]
    with state.session() as s:
        stored = s.scalar(select(Call).where(Call.ref == "crm-1"))
        assert set(stored.required_skills) == {OCCUPATION, SKILL}
        assert stored.author.username == "pia"
        assert s.scalar(select(func.count()).select_from(Call)) == 2


def _generator():
    spec = importlib.util.spec_from_file_location("gen_members", REPO / "bench" / "gen_members.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_line_the_database_refuses_is_lost_alone_and_reported(make_node):
    # Lines are written a batch at a time; a batch the database refuses is written again line
    # by line. A remote member already holding the actor id "carl" would get makes the
    # database refuse line 3 (the importer's own checks only know local user names).
    app = make_node()
    state = app.extensions["coopfed"]
    with state.session() as s:
        s.add(Member(ap_id=state.ctx.member_iri("carl"), local=False, node="o.test", username="c"))
        s.commit()
    lines = [
        member(username="ada", email="ada@example.se", skills=[SKILL_DE, "zzqx Unbekanntes"]),
        member(username="bea", email="bea@example.se", occupations=[OCCUPATION]),
        member(username="carl", email="carl@example.se", skills=[SKILL]),  # 3 refused
        '{"username": "broken"',  # 4 bad JSON
        member(username="ada", email="ada2@example.se"),  # 5 duplicate of line 1
        member(username="dan", email="carl@example.se", skills=[SKILL]),  # 6: carl's e-mail is free
    ]
    result = run(app, "members", lines, batch_size=10)
    assert result.stored == 3 and result.without_password == 3
    assert [n for n, _ in result.skipped] == [3, 4, 5]
    assert result.skipped[0][1].startswith("rejected by the database")
    assert result.skipped[1][1].startswith("bad JSON")
    assert "duplicate username 'ada'" in result.skipped[2][1]
    with state.session() as s:
        stored = {m.username: m for m in s.scalars(select(Member).where(Member.local))}
        assert sorted(stored) == ["ada", "bea", "dan"]
        assert [c.concept_iri for c in stored["ada"].skills] == [SKILL]
        assert [c.concept_iri for c in stored["bea"].occupations] == [OCCUPATION]
        assert [(p.text, p.status) for p in stored["ada"].phrases] == [
            (SKILL_DE, "linked"),
            ("zzqx Unbekanntes", "unlinked"),
        ]
        assert [lang.code for lang in stored["dan"].languages] == ["de"]
        assert stored["dan"].email == "carl@example.se"


def test_imported_members_are_published_to_their_followers_only(make_node):
    # A batch asks once which new members have followers or a published record; a fediverse
    # account that already follows the actor id "eva" takes (say from before a rename) gets her
    # Update, and "fred", whom nobody follows on a node without partners, queues nothing.
    app = make_node()
    state = app.extensions["coopfed"]
    eva = state.ctx.member_iri("eva")
    with state.session() as s:
        s.add(
            Follower(
                local_actor=eva,
                follower="https://masto.test/users/x",
                follower_inbox="https://masto.test/users/x/inbox",
                shared_inbox="https://masto.test/inbox",
                accepted=True,
            )
        )
        s.commit()
    lines = [
        member(username=name, email=f"{name}@example.se", visibility="public")
        for name in ("eva", "fred")
    ]
    assert run(app, "members", lines).stored == 2
    with state.session() as s:
        sent = s.execute(
            select(OutboxActivity.actor, OutboxActivity.type, Delivery.inbox_url).join(
                Delivery, Delivery.activity_id == OutboxActivity.id
            )
        ).all()
    assert [tuple(row) for row in sent] == [(eva, "Update", "https://masto.test/inbox")]


def test_a_generated_file_with_one_bad_line_imports_every_other_line(make_node, tmp_path, capsys):
    # 1,000 lines in two batches and a bit; the 10,000-line timing is bench/bench_import.py.
    _generator().main(
        [
            "--members",
            "1000",
            "--calls",
            "60",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "gen"),
            "--bad-lines",
            "1",
        ]
    )
    bad_line = int(capsys.readouterr().out.split("malformed member lines: ")[1].split()[0])
    app = make_node()
    with (tmp_path / "gen" / "members.jsonl").open("rb") as fh:
        result = run(app, "members", fh, batch_size=400)
    assert result.stored == 999 and result.lines == 1000
    assert [n for n, _ in result.skipped] == [bad_line]
    assert result.skipped[0][1].startswith("bad JSON")
    report = result.to_json()
    assert report["linked"] and report["unlinked"]
    state = app.extensions["coopfed"]
    with state.session() as s:
        assert s.scalar(select(func.count()).select_from(Member)) == 999
        assert s.scalar(select(func.count()).select_from(MemberPhrase)) == sum(
            item["count"] for key in ("linked", "proposed", "unlinked") for item in report[key]
        )
    with (tmp_path / "gen" / "calls.jsonl").open("rb") as fh:
        calls = run(app, "calls", fh)
    # Calls by the member on the bad line cannot be stored; all others are.
    assert calls.stored + len(calls.skipped) == 60
    assert all("unknown author" in reason for _, reason in calls.skipped)
