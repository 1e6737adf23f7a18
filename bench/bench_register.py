"""Syncing from the member register: `coopfed import members --update` of a 10,000-line
register in which 500 members changed (city, skills), after the same register was imported.

    uv run python bench/bench_register.py [--count 10000] [--changes 500] [--database-url URL]

Issue 12's bar: < 30 s for 10,000 lines with 500 changes; exactly those 500 are changed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_node import make_node  # noqa: E402

from profiles import register  # noqa: E402
from profiles.vocabulary import load_curated_file  # noqa: E402


def skill_label() -> str:
    for c in load_curated_file()["concepts"]:
        if c["kind"] == "skill" and "sv" in c["labels"]:
            return str(c["labels"]["sv"]["preferred"])
    raise SystemExit("no curated Swedish skill label")


def lines(count: int, changed: set[int], skill: str) -> list[str]:
    return [
        json.dumps(
            {
                "ref": f"M{i}",
                "username": f"member{i}",
                "email": f"m{i}@example.se",
                "country": "SE",
                "city": "Lund" if i in changed else "Malmö",
                "skills": [skill] if (i % 3 == 0) != (i in changed) else [],
                "languages": [{"code": "sv", "level": "native"}],
            },
            ensure_ascii=False,
        )
        for i in range(count)
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--changes", type=int, default=500)
    ap.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    args = ap.parse_args()
    skill = skill_label()
    with tempfile.TemporaryDirectory() as tmp:
        state = make_node(Path(tmp), args.database_url)

        def sync(register_lines: list[str]) -> tuple[register.SyncResult, float]:
            with state.session() as s:
                started = time.perf_counter()
                result = register.sync_members(
                    s, state.ctx, state.vocabulary.get(s), register_lines, batch_size=500
                )
                return result, time.perf_counter() - started

        first, first_s = sync(lines(args.count, set(), skill))
        step = max(1, args.count // args.changes)
        changed = set(range(3, args.count, step)[: args.changes])
        second, second_s = sync(lines(args.count, changed, skill))
        db = state.engine.dialect.name
        state.engine.dispose()
    exact = sorted(second.changed) == sorted(f"member{i}" for i in changed)
    print(f"register bench: {args.count} lines, {len(changed)} changed, {db}")
    print(f"{'step':<44}{'seconds':>9}{'lines/s':>9}  bar")
    print(f"{'first import (all created)':<44}{first_s:>9.2f}{args.count / first_s:>9.0f}")
    print(f"{'--update with the changes':<44}{second_s:>9.2f}{args.count / second_s:>9.0f}  < 30 s")
    print(
        f"created {len(first.created)}; then changed {len(second.changed)}, unchanged "
        f"{second.unchanged}, skipped {len(second.skipped)}; exactly the changed ones: {exact}"
    )
    ok = second_s < 30 and exact and len(first.created) == args.count
    print("bars met" if ok else "BARS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
