"""The admin's member list with 30,000 members: /admin/ rendered through the app (search,
filters, a deep keyset page), p50 and p95 of repeated requests.

    uv run python bench/bench_admin_members.py [--count 30000] [--database-url URL]

Issue 12's bar: p50 < 100 ms with 30,000 members.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from federation.db import utcnow  # noqa: E402
from node import db as node_db  # noqa: E402
from node.app import create_app  # noqa: E402
from node.settings import Settings  # noqa: E402
from profiles.invitations import AccountInvitation  # noqa: E402
from profiles.members import create_member  # noqa: E402
from profiles.models import Member  # noqa: E402

PASSWORD = "a long enough password"
QUERIES = {
    "first page": "/admin/",
    "deep page (keyset)": "/admin/?after=m25000",
    "search by name": "/admin/?q=nummer+2999",
    "search by user name": "/admin/?q=m1234",
    "state=invited": "/admin/?state=invited",
    "state=pending&visibility=coop": "/admin/?state=pending&visibility=coop",
    "state=deactivated, deep": "/admin/?state=deactivated&after=m20000",
}


def populate(state, count: int) -> None:
    ctx, now = state.ctx, utcnow()
    with state.session() as s:
        admin = create_member(s, ctx, username="boss", email="boss@example.org", password=PASSWORD)
        admin.is_admin = True
        s.flush()
        pw = admin.password_hash
        for start in range(0, count, 5000):
            s.execute(
                insert(Member),
                [
                    {
                        "ap_id": ctx.member_iri(f"m{i:05d}"),
                        "local": True,
                        "node": ctx.domain,
                        "username": f"m{i:05d}",
                        "email": f"person{i}@example.org",
                        "name": f"Person Nummer {i}",
                        "password_hash": pw if i % 3 == 0 else None,
                        "visibility": ("public", "partners", "coop")[i % 3],
                        "deactivated_at": now if i % 50 == 0 else None,
                        "coop_name": ctx.name,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(start, min(count, start + 5000))
                ],
            )
        ids = [mid for (mid,) in s.query(Member.id).filter(Member.password_hash.is_(None))]
        s.execute(
            insert(AccountInvitation),
            [
                {
                    "member_id": mid,
                    "generation": 1,
                    "sent_count": 1,
                    "state": "invited",
                    "created_at": now,
                    "sent_at": now,
                }
                for mid in ids[::2]
            ],
        )
        s.commit()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=30_000)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            instance_path=Path(tmp),
            domain="smart.test",
            name="Smart Sverige",
            secret_key=secrets.token_hex(16),
            dev_mode=True,
            worker_in_process=False,
            database_url=args.database_url,
        )
        engine = node_db.make_engine(settings.sqlalchemy_url)
        node_db.create_all(engine)
        app = create_app(settings, engine=engine)
        app.config["WTF_CSRF_ENABLED"] = False
        state = app.extensions["coopfed"]
        populate(state, args.count)
        client = app.test_client()
        assert (
            client.post("/login", data={"username": "boss", "password": PASSWORD}).status_code
            == 302
        )
        results = {}
        for label, url in QUERIES.items():
            assert client.get(url).status_code == 200  # warm
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            results[label] = (statistics.median(times), sorted(times)[int(0.95 * len(times)) - 1])
        db = engine.dialect.name
        engine.dispose()
    print(f"admin member list: {args.count} members, {db}, {args.repeat} requests each")
    print(f"{'query':<36}{'p50 ms':>9}{'p95 ms':>9}  bar")
    for label, (p50, p95) in results.items():
        print(f"{label:<36}{p50:>9.1f}{p95:>9.1f}  < 100 ms p50")
    ok = all(p50 < 100 for p50, _ in results.values())
    print("bars met" if ok else "BARS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
