"""Call page with suggestions, served over HTTP, against a bare Flask hello-world in the same run.

    uv run python bench/bench_callpage.py [--members 20000] [--requests 300] [--server waitress]
    uv run python bench/bench_callpage.py --members 100000      # the issue's figure

Builds a node (SQLite in a temporary folder, the curated vocabulary) with N seeded members in
eight countries (a third local, the rest stored as partner coops' members, as federation stores
them) and a few hundred calls, then serves it on loopback with waitress (or werkzeug). One
client on a keep-alive connection requests, one after the other:

- ``hello``: a bare Flask app answering "hello" (the baseline: server + HTTP + Flask overhead);
- ``call page, anonymous``: GET /calls/<id> without suggestions (the page itself);
- ``call page, author``: GET /calls/<id> signed in as its author: ranked suggestions with
  reasons in German, and the team;
- ``call page, author, cross-border``: the same with ``?cross_border=1``.

Prints p50/p99 per row and the ratio to the hello-world row, plus the one-off index build time
(the first request of a process pays it).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import insert

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_node import make_app  # noqa: E402

from profiles.calls import CallData, create_call  # noqa: E402
from profiles.members import ProfileData, create_member  # noqa: E402
from profiles.models import (  # noqa: E402
    AvailabilityRange,
    Call,
    CallLanguage,
    CallSkill,
    Member,
    MemberConcept,
    MemberLanguage,
)
from profiles.vocabulary import load_curated_file  # noqa: E402

PASSWORD = "a long enough bench password"
HOME = "smart.at"
NODES = {
    "AT": HOME,
    "SE": "smart.se",
    "DE": "smart.de",
    "FR": "smart.fr",
    "BE": "smart.be",
    "NL": "smart.nl",
    "IT": "smart.it",
    "ES": "smart.es",
}
FIRST_LANG = {"AT": "de", "SE": "sv", "DE": "de", "FR": "fr", "BE": "nl", "NL": "nl", "IT": "it"}
FIRST_LANG["ES"] = "es"
LEVELS = ("B1", "B2", "C1", "C2")


# --- data --------------------------------------------------------------------------------------


def generate(app: Flask, members: int, calls: int, seed: int) -> str:
    """Seeded members and calls; returns the public id of the author's call."""
    rng = random.Random(seed)
    state = app.extensions["coopfed"]
    curated = load_curated_file()["concepts"]
    skills = [c for c in curated if c["kind"] == "skill"]
    occupations = [c["iri"] for c in curated if c["kind"] == "occupation"]
    # Popularity follows a Zipf-like law: a few skills are common, most are rare.
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(skills))]
    rng.shuffle(skills)
    # Imported yesterday: steady state, not the minute after a bulk import
    # (see node/match_service.py).
    now = datetime.now(UTC) - timedelta(days=1)
    with state.session() as s:
        author = create_member(
            s,
            state.ctx,
            username="author",
            email="author@example.at",
            password=PASSWORD,
            profile=ProfileData(
                name="Anna Autorin",
                country="AT",
                city="Wien",
                languages=[("de", "native"), ("en", "C1")],
                skills=[skills[0]["iri"]],
            ),
            vocab=state.vocabulary.get(s),
        )
        s.commit()
        author_id = author.id
        rows, concepts, langs, ranges = [], [], [], []
        for n in range(members):
            mid = author_id + 1 + n
            country = rng.choice(list(NODES))
            node = NODES[country]
            first = FIRST_LANG[country]
            held = {c["iri"]: c for c in rng.choices(skills, weights, k=rng.randint(3, 8))}
            bio_concept = rng.choice(list(held.values()))
            label = bio_concept["labels"].get(first, bio_concept["labels"]["en"])["preferred"]
            rows.append(
                {
                    "id": mid,
                    "ap_id": f"http://{node}/members/m{n}",
                    "local": node == HOME,
                    "node": node,
                    "username": f"m{n}",
                    "name": f"Member {n}",
                    "summary": f"<p>Freelancer since {2000 + n % 25}: {label} and more.</p>",
                    "country": country,
                    "city": "",
                    "remote": rng.random() < 0.3,
                    "visibility": rng.choices(("partners", "public", "coop"), (8, 1, 1))[0],
                    "coop_name": f"Smart {country}",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            concepts.extend({"member_id": mid, "concept_iri": iri, "kind": "skill"} for iri in held)
            if rng.random() < 0.5:
                occ = rng.choice(occupations)
                concepts.append({"member_id": mid, "concept_iri": occ, "kind": "occupation"})
            langs.append({"member_id": mid, "code": first, "level": "native"})
            if first != "en" and rng.random() < 0.7:
                langs.append({"member_id": mid, "code": "en", "level": rng.choice(LEVELS)})
            if rng.random() < 0.5:
                start = date(2027, 1, 1) + timedelta(days=rng.randint(0, 300))
                end = start + timedelta(days=rng.randint(7, 90))
                ranges.append({"member_id": mid, "start": start, "end": end})
        for table, data in (
            (Member, rows),
            (MemberConcept, concepts),
            (MemberLanguage, langs),
            (AvailabilityRange, ranges),
        ):
            for i in range(0, len(data), 5000):
                s.execute(insert(table), data[i : i + 5000])
        # Other open calls (for realism: the index holds them too).
        call_rows, call_skills, call_langs = [], [], []
        for n in range(calls):
            cid = 1_000_000 + n
            country = rng.choice(list(NODES))
            node = NODES[country]
            call_rows.append(
                {
                    "id": cid,
                    "ap_id": f"http://{node}/calls/c{n}",
                    "public_id": f"c{n}-{secrets.token_hex(4)}",
                    "local": node == HOME,
                    "node": node,
                    "author_id": author_id + 1 + rng.randrange(members),
                    "title": f"Project {n}",
                    "description": "",
                    "country": country,
                    "status": "open",
                    "visibility": "partners",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            want = {c["iri"] for c in rng.choices(skills, weights, k=rng.randint(2, 5))}
            call_skills.extend(
                {"call_id": cid, "concept_iri": iri, "required": True} for iri in want
            )
            call_langs.append({"call_id": cid, "code": FIRST_LANG[country]})
        for table, data in (
            (Call, call_rows),
            (CallSkill, call_skills),
            (CallLanguage, call_langs),
        ):
            for i in range(0, len(data), 5000):
                s.execute(insert(table), data[i : i + 5000])
        s.commit()
        author = s.get(Member, author_id)
        assert author is not None
        call = create_call(
            s,
            state.ctx,
            author,
            CallData(
                title="Dokumentarfilm: Musik und Ton",
                skills_required=[skills[1]["iri"], skills[5]["iri"], skills[20]["iri"]],
                skills_optional=[skills[3]["iri"], skills[40]["iri"]],
                languages=["de", "en"],
                country="AT",
                city="Wien",
                starts=date(2027, 3, 1),
                ends=date(2027, 5, 31),
            ),
            state.vocabulary.get(s),
        )
        s.commit()
        return call.public_id


# --- serving and measuring ---------------------------------------------------------------------


def serve(app: Any, server: str) -> tuple[int, Any]:
    """Start ``app`` on a free loopback port in a daemon thread; (port, stop function)."""
    if server == "waitress":
        from waitress.server import create_server

        srv = create_server(app, host="127.0.0.1", port=0, threads=4)
        port = srv.effective_port
        threading.Thread(target=srv.run, daemon=True).start()
        # Closing waitress from another thread races its select loop (EBADF tracebacks); the
        # daemon thread ends with the process instead.
        return port, lambda: None
    from werkzeug.serving import make_server

    wsrv = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=wsrv.serve_forever, daemon=True).start()
    return wsrv.server_port, wsrv.shutdown


class Client:
    """One keep-alive connection, with a cookie jar (name -> value)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        headers = {"Accept-Language": "de"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        # Every cookie: sign-in sets a device cookie beside the session one (the bench kept
        # only the first Set-Cookie, and lost the session).
        for cookie in response.msg.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value
        return response.status, data

    def timed(self, path: str, n: int, check: bytes | None = None) -> list[float]:
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            status, data = self.request("GET", path)
            out.append(time.perf_counter() - t0)
            assert status == 200, (path, status, data[:300])
            if check is not None:
                assert check in data, (path, data[:300])
        return out


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description="call page with suggestions vs bare Flask")
    ap.add_argument("--members", type=int, default=20_000)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--server", choices=("waitress", "werkzeug"), default="waitress")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="coopfed-bench-") as tmp:
        app = make_app(Path(tmp), domain=HOME, name="Smart Österreich", country="AT")
        app.config["WTF_CSRF_ENABLED"] = False  # the bench signs in with a plain POST
        state = app.extensions["coopfed"]
        t0 = time.perf_counter()
        public_id = generate(app, args.members, args.calls, args.seed)
        gen_s = time.perf_counter() - t0

        hello = Flask("hello")
        hello.add_url_rule("/", "hello", lambda: "hello")
        port, stop = serve(app, args.server)
        hport, hstop = serve(hello, args.server)
        try:
            author = Client(port)
            status, _ = author.request("POST", "/login", f"username=author&password={PASSWORD}")
            assert status in (302, 303), status
            path = f"/calls/{public_id}"
            t0 = time.perf_counter()
            first = author.timed(path, 1, b'id="matches"')[0]
            build_s = time.perf_counter() - t0
            service = state.match_service()
            warm = max(10, args.requests // 10)
            rows: list[tuple[str, list[float]]] = []
            clients = {
                "hello (bare Flask)": (Client(hport), "/", b"hello"),
                "call page, anonymous": (Client(port), path, b"call-title"),
                "call page, author + suggestions": (author, path, b'class="card match"'),
                "call page, author, cross-border": (
                    author,
                    path + "?cross_border=1",
                    b'class="card match"',
                ),
            }
            for name, (client, url, check) in clients.items():
                client.timed(url, warm, check)
                rows.append((name, client.timed(url, args.requests, check)))
        finally:
            stop()
            hstop()
        state.engine.dispose()

    base50, base99 = pct(rows[0][1], 50), pct(rows[0][1], 99)
    print(
        f"\nmembers={args.members} calls={args.calls + 1} requests={args.requests} "
        f"server={args.server} seed={args.seed}"
    )
    print(f"data generation {gen_s:.1f}s; first call page (builds the index) {first * 1000:.0f} ms")
    print(f"index builds: {service.builds}\n")
    print(
        f"{'row':36} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'mean ms':>9} "
        f"{'x p50':>8} {'x p99':>8}"
    )
    figures = []
    for name, xs in rows:
        p50, p99 = pct(xs, 50), pct(xs, 99)
        mean = statistics.fmean(xs) * 1000
        print(
            f"{name:36} {p50:9.2f} {p99:9.2f} {max(xs) * 1000:9.2f} {mean:9.2f} "
            f"{p50 / base50:8.1f} {p99 / base99:8.1f}"
        )
        figures.append({"row": name, "p50_ms": p50, "p99_ms": p99, "mean_ms": mean})
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"members": args.members, "first_request_s": build_s, "rows": figures}, indent=1
            )
        )


if __name__ == "__main__":
    main()
