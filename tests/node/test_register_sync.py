"""Sync from the coop's member register (profiles.register, `coopfed import members --update`):
upsert by ref or user name, dry run, deactivation of the missing, CSV, unknown fields, the
user-name rule with a suggestion; and a register with N changes changes exactly those N members."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import event, func, select

from node.cli.imports import import_
from profiles import register
from profiles.members import authenticate, create_member, set_password
from profiles.models import Member, PortfolioLink
from profiles.vocabulary import load_curated_file

PASSWORD = "a long enough password"


def _skill(lang: str) -> tuple[str, str]:
    for c in load_curated_file()["concepts"]:
        if c["kind"] == "skill" and lang in c["labels"]:
            return c["iri"], c["labels"][lang]["preferred"]
    raise AssertionError(lang)


SKILL, SKILL_SV = _skill("sv")


def sync(app, lines, **kw):
    state = app.extensions["coopfed"]
    with state.session() as s:
        return register.sync_members(s, state.ctx, state.vocabulary.get(s), lines, **kw)


def line(**fields) -> str:
    return json.dumps(fields, ensure_ascii=False)


def members(app) -> dict[str, Member]:
    state = app.extensions["coopfed"]
    with state.session() as s:
        rows = s.scalars(select(Member).where(Member.local)).all()
        s.expunge_all()
        return {m.username: m for m in rows}


def test_update_by_ref_or_username_dry_run_and_deactivate(make_node):
    app = make_node()
    first = [
        line(ref="M-1", username="anna", email="anna@example.se", city="Malmö", country="SE"),
        line(ref="M-2", username="bo", email="bo@example.se", country="SE"),
        line(username="cy", email="cy@example.se", country="SE"),
    ]
    result = sync(app, first)
    assert (result.created, result.changed, result.skipped) == (["anna", "bo", "cy"], [], [])
    state = app.extensions["coopfed"]
    with state.session() as s:  # an admin not in the register; anna's own portfolio link
        admin = create_member(s, state.ctx, username="boss", email="b@x.se", password=PASSWORD)
        admin.is_admin = True
        anna = s.scalar(select(Member).where(Member.username == "anna"))
        anna.links = [PortfolioLink(url="https://anna.example", title="", position=0)]
        set_password(anna, PASSWORD)
        s.commit()
    second = [
        line(ref="M-1", username="anna", city="Lund", skills=[SKILL_SV]),  # changed
        line(ref="M-2", username="bo", email="bo@example.se", country="SE"),  # unchanged
        line(username="dee", email="dee@example.se", country="SE"),  # new
    ]
    dry = sync(app, second, dry_run=True, deactivate_missing=True)
    assert (dry.created, dry.changed, dry.unchanged) == (["dee"], ["anna"], 1)
    assert dry.deactivated == ["cy"]  # never the admin
    after_dry = members(app)
    assert after_dry["anna"].city == "Malmö" and "dee" not in after_dry  # nothing written
    assert after_dry["cy"].deactivated_at is None

    real = sync(app, second, deactivate_missing=True)
    assert (real.created, real.changed, real.deactivated) == (["dee"], ["anna"], ["cy"])
    now = members(app)
    assert now["anna"].city == "Lund" and now["anna"].country == "SE"  # absent: kept
    assert now["anna"].email == "anna@example.se"
    assert now["cy"].deactivated_at is not None and now["boss"].deactivated_at is None
    with state.session() as s:
        anna = s.scalar(select(Member).where(Member.username == "anna"))
        assert [c.concept_iri for c in anna.skills] == [SKILL]
        assert [link.url for link in anna.links] == ["https://anna.example"]
        # Deactivated: never deleted, but cannot sign in and leaves the directory.
        cy = s.scalar(select(Member).where(Member.username == "cy"))
        set_password(cy, PASSWORD)
        s.commit()
        assert authenticate(s, state.ctx, "cy", PASSWORD, "1.1.1.1") is None
        assert authenticate(s, state.ctx, "anna", PASSWORD, "1.1.1.1") is not None
        s.commit()
    assert "/members/cy" not in app.test_client().get("/directory").get_data(as_text=True)
    # Back in the register: reactivated.
    back = sync(app, [line(username="cy", email="cy@example.se", country="SE")])
    assert back.changed == ["cy"] and members(app)["cy"].deactivated_at is None
    # Matching by ref wins over the user name; a ref cannot rename a member.
    clash = sync(app, [line(ref="M-1", username="annika")])
    assert clash.changed == [] and "user names do not change" in clash.skipped[0][1]


def test_csv_unknown_fields_and_usernames(make_node):
    app = make_node()
    csv_text = (
        "ref,username,email,name,country,languages,skills,remote,shoe_size,Favourite colour\n"
        f'M-1,anna.l,anna@example.se,"Lindqvist, Anna",SE,sv:native;en:C1,{SKILL_SV},yes,42,\n'
        "M-2,José García,jose@example.es,José,ES,,,no,41,blue\n"
        'M-3,bo-k,bo@example.se,Bo,SE,,,maybe,40,""\n'
        "M-4,di_,di@example.se,Di,SE,,,,,\n"
    )
    result = sync(app, csv_text.splitlines(keepends=True), fmt="csv")
    assert result.created == ["anna.l", "di_"]
    reasons = dict(result.skipped)
    assert "try 'jose_garcia'" in reasons[3]
    assert "remote: true or false" in reasons[4]
    assert result.unknown_fields == {"shoe_size": 2, "favourite colour": 1}  # per line read
    anna = members(app)["anna.l"]
    assert anna.name == "Lindqvist, Anna" and anna.remote is True and anna.ref == "M-1"
    state = app.extensions["coopfed"]
    with state.session() as s:
        anna = s.get(Member, anna.id)
        assert sorted((x.code, x.level) for x in anna.languages) == [
            ("en", "C1"),
            ("sv", "native"),
        ]
    # JSON Lines: unknown fields are reported once and ignored, the line is stored.
    jsonl = [line(username="ed", email="ed@example.se", erp_id=7, skils=["x"])]
    result = sync(app, jsonl, fmt="jsonl")
    assert result.created == ["ed"] and set(result.unknown_fields) == {"erp_id", "skils"}


def test_cli_update_dry_run_report(make_node, tmp_path):
    app = make_node()
    state = app.extensions["coopfed"]
    path = tmp_path / "register.jsonl"
    path.write_text(line(ref="1", username="anna", email="a@example.se", country="SE") + "\n")
    runner = CliRunner()
    out = runner.invoke(import_, ["members", str(path), "--update"], obj={"state": state})
    assert out.exit_code == 0, out.output
    assert "1 created, 0 changed" in out.output
    path.write_text(line(ref="1", username="anna", email="a@example.se", city="Lund") + "\n")
    out = runner.invoke(import_, ["members", str(path), "--dry-run"], obj={"state": state})
    assert "0 would be created, 1 would be changed" in out.output and "dry run" in out.output
    assert "would be changed: anna" in out.output
    assert members(app)["anna"].city == ""


def test_a_register_with_changes_changes_exactly_those(make_node):
    """2,000 lines with 100 changes (bench/bench_register.py: 10,000 with 500, < 30 s)."""
    app = make_node()
    n, changes = 2_000, 100

    def register_lines(changed: set[int]) -> list[str]:
        return [
            line(
                ref=f"M{i}",
                username=f"member{i}",
                email=f"m{i}@example.se",
                country="SE",
                city="Lund" if i in changed else "Malmö",
                skills=[SKILL_SV] if i % 3 == 0 else [],
            )
            for i in range(n)
        ]

    assert len(sync(app, register_lines(set()), batch_size=2000).created) == n
    changed = set(range(7, n, n // changes))
    assert len(changed) == changes
    statements: list[str] = []
    engine = app.extensions["coopfed"].engine
    record = lambda _c, _cur, statement, *_a: statements.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", record)
    try:
        result = sync(app, register_lines(changed), batch_size=2000)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert sorted(result.changed) == sorted(f"member{i}" for i in changed)
    assert result.unchanged == n - changes and result.created == [] and result.skipped == []
    state = app.extensions["coopfed"]
    with state.session() as s:
        assert s.scalar(select(func.count()).where(Member.city == "Lund")) == changes
    # An unchanged line costs no statement: the register is read in bulk, and only the 100
    # changed members are written (speed is bench/bench_register.py's: 10,000 lines < 30 s).
    print(f"register sync: {n} lines, {changes} changes, {len(statements)} statements")
    assert len(statements) < 20 * changes  # 14 per change here; one per line would be 3,300


def test_deactivated_members_leave_the_match_index(make_node):
    app = make_node()
    lines = [
        line(username="anna", email="anna@example.se", country="SE", skills=[SKILL_SV]),
        line(username="bo", email="bo@example.se", country="SE", skills=[SKILL_SV]),
    ]
    sync(app, lines)
    state = app.extensions["coopfed"]
    service = state.match_service()
    with state.session() as s:
        service.warm(s)
        bo = s.scalar(select(Member.ap_id).where(Member.username == "bo"))
    assert service.indexed(bo)
    assert sync(app, lines[:1], deactivate_missing=True).deactivated == ["bo"]
    service.job_refresh(state)
    assert not service.indexed(bo)


def test_sync_keeps_what_members_wrote(make_node):
    """Issue 11 (nothing dropped) on the register path: free text that links to no concept is
    kept as the member's own words, created and replaced by later syncs."""
    from profiles.models import MemberPhrase

    app = make_node()

    def phrases(username: str) -> list[str]:
        state = app.extensions["coopfed"]
        with state.session() as s:
            rows = s.scalars(
                select(MemberPhrase.text)
                .join(Member, Member.id == MemberPhrase.member_id)
                .where(Member.username == username)
                .order_by(MemberPhrase.position)
            )
            return list(rows)

    words = "Zwiebelturmrestaurierung"
    result = sync(app, [line(username="ida", country="SE", skills=[SKILL_SV, words])])
    assert result.created == ["ida"]
    assert words in phrases("ida")
    sync(app, [line(username="ida", country="SE", skills=["Glockengießerei"])])
    assert phrases("ida") == ["Glockengießerei"]
