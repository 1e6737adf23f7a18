"""Call search at scale: keyword, skill-as-text and filter queries over N calls, on SQLite and
(with ``--database-url``) PostgreSQL.

    uv run python bench/bench_call_search.py                      # 10,000 calls, SQLite
    uv run python bench/bench_call_search.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Builds a node (the curated vocabulary, a temporary SQLite file or a throwaway PostgreSQL
schema) with N seeded calls in eight languages (titles and descriptions built from the
curated skills' labels, so that words recur like real ones do), a quarter of them closed, then
requests ``/calls?...`` through the Flask test client (the whole page: query, count, render)
``--requests`` times per query, anonymously, and the search alone
(:func:`profiles.calls.list_calls`: the count and the page of results, without rendering).
Prints p50/p99 of each per query, and the result count.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from node import db as node_db  # noqa: E402
from node.app import create_app  # noqa: E402
from node.settings import Settings  # noqa: E402
from profiles.members import ProfileData, create_member  # noqa: E402
from profiles.models import Call, CallLanguage, CallSkill  # noqa: E402
from profiles.search import searchable  # noqa: E402
from profiles.vocabulary import load_curated, load_curated_file  # noqa: E402

LANGS = ("en", "de", "sv", "fr", "nl", "it", "es")
COUNTRIES = ("AT", "SE", "DE", "FR", "BE", "NL", "IT", "ES")
QUERIES = (
    "",
    "q=licht",
    "q=eclairage",
    "q=Ton+Technik",
    "q=festival&country=FR",
    "skill_q=Schnitt",
    "skill_q=lighting&q=tour",
    "q=zzzzunfindable",
)


def seed(app, calls: int, rng: random.Random) -> None:
    state = app.extensions["coopfed"]
    skills = [c for c in load_curated_file()["concepts"] if c["kind"] == "skill"]
    with state.session() as s:
        author = create_member(
            s,
            state.ctx,
            username="author",
            password=secrets.token_hex(12),
            profile=ProfileData(name="Author"),
            vocab=state.vocabulary.get(s),
        )
        s.commit()
        author_id = author.id
        now = datetime.now(UTC) - timedelta(days=1)
        rows, skill_rows, lang_rows = [], [], []
        for n in range(1, calls + 1):
            lang = rng.choice(LANGS)
            chosen = rng.sample(skills, 3)
            names = [c["labels"].get(lang, c["labels"]["en"])["preferred"] for c in chosen]
            title = f"{names[0].capitalize()} for a {rng.choice(('tour', 'festival', 'film'))} {n}"
            description = f"<p>{', '.join(names)}. " + "Lorem ipsum dolor sit amet. " * 8 + "</p>"
            city = rng.choice(("Wien", "Malmö", "Lyon", "Gent", "Milano", "Sevilla", "Köln"))
            rows.append(
                {
                    "id": n,
                    "ap_id": f"{state.ctx.base_url}/calls/c{n}",
                    "public_id": f"c{n}",
                    "local": True,
                    "node": state.ctx.domain,
                    "author_id": author_id,
                    "title": title,
                    "description": description,
                    "language": lang,
                    "country": rng.choice(COUNTRIES),
                    "city": city,
                    "remote": rng.random() < 0.3,
                    "compensation": "",
                    "status": "closed" if rng.random() < 0.25 else "open",
                    "visibility": "public",
                    "search_text": searchable(title, city, html=description),
                    "created_at": now - timedelta(minutes=n),
                    "updated_at": now,
                }
            )
            skill_rows += [
                {"call_id": n, "concept_iri": c["iri"], "required": i < 2}
                for i, c in enumerate(chosen)
            ]
            lang_rows.append({"call_id": n, "code": lang})
        for model, batch in ((Call, rows), (CallSkill, skill_rows), (CallLanguage, lang_rows)):
            for i in range(0, len(batch), 2000):
                s.execute(insert(model), batch[i : i + 2000])
        s.commit()


def measure(client, query: str, requests: int) -> tuple[float, float, str]:
    times = []
    heading = ""
    for _ in range(requests):
        started = time.perf_counter()
        page = client.get(f"/calls?{query}").get_data(as_text=True)
        times.append((time.perf_counter() - started) * 1000)
        heading = page.split('id="results-heading">', 1)[1].split("<", 1)[0]
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))], heading


def measure_query(app, query: str, requests: int) -> tuple[float, float]:
    """The search alone: the view's CallQuery for ``query``, through list_calls."""
    from urllib.parse import parse_qs

    from profiles.calls import CallQuery, list_calls

    args = {k: v[0] for k, v in parse_qs(query).items()}
    state = app.extensions["coopfed"]
    with app.test_request_context(f"/calls?{query}"):
        from node.web.pages import find

        found = find(args.get("skill_q", ""), "skill", [], "en")
    call_query = CallQuery(
        text=args.get("q"),
        country=args.get("country"),
        skills=[c.iri for c in found] if "skill_q" in args else None,
    )
    times = []
    with state.session() as s:
        for _ in range(requests):
            started = time.perf_counter()
            list_calls(s, None, call_query)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        schema = None
        if args.database_url:
            schema = f"bench_search_{secrets.token_hex(4)}"
            admin = create_engine(args.database_url)
            with admin.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            engine = create_engine(
                args.database_url, connect_args={"options": f"-csearch_path={schema}"}
            )
        else:
            engine = create_engine(f"sqlite:///{tmp}/bench.db")
        try:
            node_db.upgrade(engine)
            settings = Settings(
                instance_path=Path(tmp),
                domain="smart.test",
                name="Bench",
                country="SE",
                secret_key=secrets.token_hex(16),
                dev_mode=True,
                worker_in_process=False,
            )
            app = create_app(settings, engine=engine)
            with app.extensions["coopfed"].session() as s:
                load_curated(s)
                s.commit()
            seed(app, args.calls, random.Random(args.seed))
            if schema:  # statistics as autovacuum would have them after a bulk load
                with engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
            client = app.test_client()
            print(f"{engine.dialect.name}, {args.calls} calls, {args.requests} requests each")
            print(f"{'':32} {'page':>17} {'search alone':>17}")
            print(f"{'query':32} {'p50 ms':>8} {'p99 ms':>8} {'p50 ms':>8} {'p99 ms':>8}  results")
            for query in QUERIES:
                measure(client, query, 2)  # warm up: vocabulary, linker, template cache
                p50, p99, heading = measure(client, query, args.requests)
                q50, q99 = measure_query(app, query, args.requests)
                print(
                    f"{query or '(no filter)':32} {p50:8.1f} {p99:8.1f} {q50:8.1f} {q99:8.1f}"
                    f"  {heading}"
                )
            engine.dispose()
        finally:
            if schema:
                with admin.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()


if __name__ == "__main__":
    main()
