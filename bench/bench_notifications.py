"""What the unread-notification count in the header costs a page (issue 9 bar: < 2 ms).

    uv run python bench/bench_notifications.py [--members 2000] [--per-member 50] [--requests 300]

A node (SQLite in a temporary folder) with N members and ``per-member`` notifications each
(a fifth unread), i.e. 100,000 rows by default. Measures, for one signed-in member:

- the query alone: ``profiles.collab.unread_count`` (one COUNT on (member_id, read_at));
- a page (GET /calls, Flask test client) with the count in the header, and the same page with
  the template global replaced by a constant 0 (the page without the count), alternating.

Prints p50/p99 of each and the difference of the medians.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_node import make_app  # noqa: E402

from profiles import collab  # noqa: E402
from profiles.collab.models import Notification  # noqa: E402
from profiles.members import create_member  # noqa: E402
from profiles.models import Member  # noqa: E402
from profiles.vocabulary import load_curated  # noqa: E402

PASSWORD = "a long enough bench password"


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--per-member", type=int, default=50)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        app = make_app(folder, curated=False, domain="smart.at", name="Smart Österreich")
        state = app.extensions["coopfed"]
        rng = random.Random(3)
        with state.session() as s:
            load_curated(s)
            me = create_member(s, state.ctx, username="lena", password=PASSWORD)
            s.commit()
            first = me.id + 1
            now = datetime.now(UTC)
            s.execute(
                insert(Member),
                [
                    {
                        "id": first + n,
                        "ap_id": f"http://smart.at/members/m{n}",
                        "node": "smart.at",
                        "username": f"m{n}",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(args.members - 1)
                ],
            )
            rows = []
            for mid in [me.id, *range(first, first + args.members - 1)]:
                for k in range(args.per_member):
                    at = now - timedelta(minutes=k)
                    read = None if rng.random() < 0.2 else at
                    rows.append(
                        {"member_id": mid, "kind": "message", "created_at": at, "read_at": read}
                    )
            for i in range(0, len(rows), 5000):
                s.execute(insert(Notification), rows[i : i + 5000])
            s.commit()
            me = s.scalar(select(Member).where(Member.username == "lena"))
            query = []
            for _ in range(args.requests):
                t = time.perf_counter()
                collab.unread_count(s, me)
                query.append((time.perf_counter() - t) * 1000)
            unread = collab.unread_count(s, me)
            stmt = select(func.count(Notification.id)).where(
                Notification.member_id == me.id, Notification.read_at.is_(None)
            )
            compiled = stmt.compile(state.engine, compile_kwargs={"literal_binds": True})
            plan = s.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
            print("plan:", "; ".join(str(row[-1]) for row in plan))
        print(f"{len(rows)} notifications; lena has {unread} unread")
        print(f"unread_count query: p50 {pct(query, 0.5):.3f} ms, p99 {pct(query, 0.99):.3f} ms")

        client = app.test_client()
        client.post("/login", data={"username": "lena", "password": PASSWORD})
        real = app.jinja_env.globals["unread_notifications"]
        with_count, without = [], []
        for i in range(args.requests * 2 + 20):
            on = i % 2 == 0
            app.jinja_env.globals["unread_notifications"] = real if on else (lambda: 0)
            t = time.perf_counter()
            page = client.get("/calls")
            ms = (time.perf_counter() - t) * 1000
            assert page.status_code == 200
            if i >= 20:  # warm-up
                (with_count if on else without).append(ms)
        app.jinja_env.globals["unread_notifications"] = real
        a, b = statistics.median(with_count), statistics.median(without)
        print(f"GET /calls with the count:    p50 {a:.2f} ms, p99 {pct(with_count, 0.99):.2f} ms")
        print(f"GET /calls without the count: p50 {b:.2f} ms, p99 {pct(without, 0.99):.2f} ms")
        print(f"the count adds {a - b:.3f} ms per page (median); bar: < 2 ms")


if __name__ == "__main__":
    main()
