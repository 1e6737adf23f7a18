"""Soak: mixed load with faults against the production setup on PostgreSQL, bounded, then checks.

    uv run python bench/soak.py [--seconds 180] [--restart-postgres]

Brings up deploy/local_stack.py (the deploy guide on loopback: PostgreSQL, gunicorn with 2 web
workers, 2 ``coopfed worker`` processes, nginx TLS with a local CA) and a fake fediverse behind
the same nginx: 20 hosts ``h0…h19.remote.test`` served by one loopback server. Then, for
``--seconds``:

- signed inbox POSTs (Create/Note) from 100 remote actors (h0–h9), ~4 per second, after each
  actor's Follow of the calls Group (answered with an Accept by the node);
- page views and API calls of signed-in members, and the call page with its matches;
- every 30 s a public call published with the web form: fanned out to 2,000 followers of the
  Group (100 per host; h0–h9 have shared inboxes, h10–h19 not: ~1,010 deliveries each);
- receiving hosts: h14, h15 slow (2 s per POST), h16 answers 500 to a third of POSTs, h17 has
  gone (410), h18 answers 503 with Retry-After: 60 for 2 minutes from t=20 s;
- faults: kill -9 of a ``coopfed worker`` at t=50 s (restarted 2 s later, as systemd does),
  kill -9 of a gunicorn web worker at t=80 s (gunicorn replaces it), a PostgreSQL restart at
  t=110 s only with ``--restart-postgres`` (it restarts the machine's shared server).

The load stops by itself; the script waits (at most 10 minutes) for the delivery and inbox
queues to drain and reports: responses by route (5xx count, p50/p99), accepted activities vs
processed, deliveries vs receipts (lost, duplicated), time to drain after the 503 window, RSS of
every process at start and end, database size growth.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine, make_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from deploy.local_stack import LocalStack, free_port  # noqa: E402
from federation import signatures, vocab  # noqa: E402
from federation.keys import generate_rsa_keypair, main_key_id  # noqa: E402
from federation.models import Delivery, Follower, InboxItem, OutboxActivity  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PASSWORD = "a long soak password"
SKILL = "http://data.europa.eu/esco/skill/91fc256e-00ec-4367-b3b4-dcd564ed3fd2"
N_HOSTS, SENDING_HOSTS, ACTORS_PER_HOST, FOLLOWERS_PER_HOST = 20, 10, 10, 100
SLOW, FLAKY, GONE, UNAVAILABLE = {"h14", "h15"}, "h16", "h17", "h18"
WINDOW = (20.0, 140.0)  # h18 answers 503 (Retry-After: 60) in this interval of the run


class FakeFediverse:
    """The remote hosts: actor documents with keys, inboxes recording what they accepted."""

    def __init__(self, started: Callable[[], float]) -> None:
        self.started = started
        self.keys = {f"h{i}": generate_rsa_keypair() for i in range(SENDING_HOSTS)}
        self.lock = threading.Lock()
        self.accepted: Counter[tuple[str, str]] = Counter()  # (activity id, inbox url) -> 2xx
        self.answers: Counter[str] = Counter()
        self.port = free_port()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _host(self) -> str:
                return self.headers.get("Host", "").split(".")[0]

            def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                host = self._host()
                found = re.fullmatch(r"/users/(u\d+)", self.path)
                if host == GONE or not found or host not in outer.keys:
                    return self._send(410 if host == GONE else 404)
                self._send(
                    200,
                    outer.actor_doc(host, found.group(1)),
                    {"Content-Type": vocab.ACTIVITY_JSON},
                )

            def do_POST(self) -> None:  # noqa: N802
                host = self._host()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, headers = outer.answer(host)
                if host in SLOW:
                    time.sleep(2)
                if 200 <= status < 300:
                    activity = json.loads(body).get("id", "")
                    inbox = f"https://{self.headers.get('Host')}{self.path}"
                    with outer.lock:
                        outer.accepted[(activity, inbox)] += 1
                with outer.lock:
                    outer.answers[f"{host}:{status}"] += 1
                self._send(status, b"", headers)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                # The sender hung up before our answer (a killed worker, a timeout): counted.
                with outer.lock:
                    outer.answers["connection closed by the sender"] += 1

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, host: str) -> tuple[int, dict[str, str]]:
        now = time.monotonic() - self.started()
        if host == GONE:
            return 410, {}
        if host == UNAVAILABLE and WINDOW[0] <= now < WINDOW[1]:
            return 503, {"Retry-After": "60"}
        if host == FLAKY and random.random() < 1 / 3:
            return 500, {}
        return 202, {}

    @staticmethod
    def actor(host: str, user: str) -> str:
        return f"https://{host}.remote.test/users/{user}"

    def actor_doc(self, host: str, user: str) -> bytes:
        iri = self.actor(host, user)
        return json.dumps(
            {
                "@context": [vocab.AS_CONTEXT, "https://w3id.org/security/v1"],
                "id": iri, "type": "Person", "preferredUsername": user,
                "inbox": f"{iri}/inbox", "outbox": f"{iri}/outbox",
                "endpoints": {"sharedInbox": f"https://{host}.remote.test/inbox"},
                "publicKey": {"id": main_key_id(iri), "owner": iri,
                              "publicKeyPem": self.keys[host][0]},
            }
        ).encode()  # fmt: skip

    def signed(
        self, host: str, user: str, activity: dict[str, Any], url: str
    ) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(activity).encode()
        headers = signatures.sign_request(
            "POST", url, {"Content-Type": vocab.ACTIVITY_JSON}, body,
            main_key_id(self.actor(host, user)), self.keys[host][1],
        )  # fmt: skip
        return body, headers


class Recorder:
    """Latencies and statuses per route."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)
        self.errors: Counter[str] = Counter()

    def call(self, route: str, fn: Callable[[], requests.Response]) -> requests.Response | None:
        started = time.perf_counter()
        try:
            r = fn()
        except requests.RequestException as exc:
            with self.lock:
                self.errors[f"{route}: {type(exc).__name__}"] += 1
            return None
        with self.lock:
            self.times[route].append((time.perf_counter() - started) * 1000)
            self.statuses[route][r.status_code] += 1
        return r


def session(ca: str) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.verify = ca
    s.headers["Referer"] = "https://a.coop.test/"
    return s


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return found.group(1) if found else ""


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def processes(stack: LocalStack) -> dict[str, int]:
    out = {"gunicorn master": stack.procs["gunicorn"].pid}
    out.update({f"web {pid}": pid for pid in stack.web_workers()})
    out.update({name: p.pid for name, p in stack.procs.items() if name.startswith("worker")})
    return out


def seed_followers(engine: Engine) -> None:
    group = "https://a.coop.test/groups/calls"
    with engine.begin() as conn:
        rows = []
        for h in range(N_HOSTS):
            shared = f"https://h{h}.remote.test/inbox" if h < SENDING_HOSTS else None
            for k in range(FOLLOWERS_PER_HOST):
                actor = f"https://h{h}.remote.test/users/f{k}"
                rows.append({"local_actor": group, "follower": actor, "accepted": True,
                             "follower_inbox": f"{actor}/inbox",
                             "shared_inbox": shared})  # fmt: skip
        conn.execute(Follower.__table__.insert(), rows)


# size: the whole scenario (senders, members, publisher, fault schedule), read top to bottom
def run_load(args: argparse.Namespace, stack: LocalStack, world: FakeFediverse,
             rec: Recorder, t0: float, faults: list[str]) -> None:  # fmt: skip
    base, ca = "https://a.coop.test", str(stack.ca.cert)
    stop = threading.Event()
    accepted_ids: list[str] = []
    lock = threading.Lock()

    def inbox_sender(seed: int) -> None:
        rng = random.Random(seed)
        s = session(ca)
        while not stop.is_set():
            host, user = f"h{rng.randrange(SENDING_HOSTS)}", f"u{rng.randrange(ACTORS_PER_HOST)}"
            actor = world.actor(host, user)
            oid = f"{actor}/notes/{secrets.token_hex(8)}"
            act = {"@context": vocab.AS_CONTEXT, "id": f"{oid}/activity", "type": "Create",
                   "actor": actor, "to": [vocab.PUBLIC],
                   "object": {"id": oid, "type": "Note", "attributedTo": actor,
                              "content": "soak", "to": [vocab.PUBLIC]}}  # fmt: skip
            body, headers = world.signed(host, user, act, f"{base}/inbox")
            r = rec.call(
                "POST /inbox",
                lambda b=body, h=headers: s.post(f"{base}/inbox", data=b, headers=h, timeout=30),
            )
            if r is not None and r.status_code == 202 and r.text == "accepted":
                with lock:
                    accepted_ids.append(act["id"])
            stop.wait(rng.uniform(0.3, 0.7))

    def member(seed: int, username: str) -> None:
        rng = random.Random(seed)
        s = session(ca)
        token = csrf(s.get(f"{base}/login", timeout=30).text)
        s.post(f"{base}/login", data={"username": username, "password": PASSWORD,
               "csrf_token": token}, timeout=30)  # fmt: skip
        pages = ["/", "/calls", "/directory", "/api/v1/calls", "/members/anna", "/following"]
        while not stop.is_set():
            path = rng.choice(pages)
            rec.call(f"GET {path}", lambda p=path: s.get(f"{base}{p}", timeout=30))
            stop.wait(rng.uniform(0.3, 0.8))

    def publisher() -> None:
        s = session(ca)
        token = csrf(s.get(f"{base}/login", timeout=30).text)
        s.post(f"{base}/login", data={"username": "anna", "password": PASSWORD,
               "csrf_token": token}, timeout=30)  # fmt: skip
        n = 0
        while not stop.is_set():
            token = csrf(s.get(f"{base}/calls/new", timeout=30).text)
            data = {"csrf_token": token, "title": f"Soak call {n}", "description": "Soak.",
                    "skills_required": SKILL, "country": "SE", "city": "Malmö",
                    "languages": "en", "visibility": "public", "action": "save"}  # fmt: skip
            r = rec.call(
                "POST /calls/new",
                lambda d=data: s.post(
                    f"{base}/calls/new", data=d, timeout=30, allow_redirects=False
                ),
            )  # noqa: E501
            if r is not None and r.status_code in (302, 303):
                call_page = r.headers["Location"]
                rec.call(
                    "GET /calls/<id> (matches)",
                    lambda u=call_page: s.get(
                        u if u.startswith("http") else f"{base}{u}", timeout=30
                    ),
                )  # noqa: E501
            n += 1
            stop.wait(30)

    # Each remote actor follows the calls Group first (the node answers with Accepts).
    s = session(ca)
    for h in range(SENDING_HOSTS):
        for u in range(ACTORS_PER_HOST):
            host, user = f"h{h}", f"u{u}"
            actor = world.actor(host, user)
            act = {"@context": vocab.AS_CONTEXT, "id": f"{actor}/follows/{secrets.token_hex(6)}",
                   "type": "Follow", "actor": actor, "object": f"{base}/groups/calls"}  # fmt: skip
            body, headers = world.signed(host, user, act, f"{base}/inbox")
            r = rec.call(
                "POST /inbox",
                lambda b=body, hd=headers: s.post(f"{base}/inbox", data=b, headers=hd, timeout=30),
            )  # noqa: E501
            if r is not None and r.text == "accepted":
                accepted_ids.append(act["id"])
    threads = [threading.Thread(target=inbox_sender, args=(i,)) for i in range(2)]
    threads += [threading.Thread(target=member, args=(10 + i, "anna")) for i in range(2)]
    threads.append(threading.Thread(target=publisher))
    for t in threads:
        t.start()
    schedule = [(50.0, "kill -9 worker1"), (80.0, "kill -9 a web worker")]
    if args.restart_postgres:
        schedule.append((110.0, "restart PostgreSQL"))
    for at, what in schedule:
        if at >= args.seconds:
            continue
        time.sleep(max(0.0, t0 + at - time.monotonic()))
        faults.append(f"t={time.monotonic() - t0:.0f}s {what}")
        if what == "kill -9 worker1":
            stack.procs["worker1"].send_signal(signal.SIGKILL)
            stack.procs["worker1"].wait()
            time.sleep(2)  # systemd's RestartSec=2
            stack.start_worker(1)
        elif what == "kill -9 a web worker":
            import os

            os.kill(stack.web_workers()[0], signal.SIGKILL)
        else:
            cluster = subprocess.run(
                ["pg_lsclusters", "-h"], capture_output=True, text=True, check=True
            ).stdout.split()  # noqa: E501
            subprocess.run(["pg_ctlcluster", cluster[0], cluster[1], "restart"], check=True)
    time.sleep(max(0.0, t0 + args.seconds - time.monotonic()))
    stop.set()
    for t in threads:
        t.join(60)
    args.accepted_ids = accepted_ids


def last_sent(engine: Engine, host: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            select(func.max(Delivery.sent_at)).where(Delivery.host == host)
        ).scalar()


def drain(engine: Engine, limit: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        with engine.connect() as conn:
            pending = conn.execute(select(func.count()).where(Delivery.state == "pending")).scalar()
            inbox = conn.execute(select(func.count()).where(InboxItem.state == "pending")).scalar()
        if pending == 0 and inbox == 0:
            return time.monotonic() - started
        time.sleep(1)
    return None


def report(engine: Engine, world: FakeFediverse, rec: Recorder, accepted_ids: list[str]) -> None:
    print(f"\n{'route':<28} {'n':>6} {'5xx':>5} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for route in sorted(rec.times):
        xs = sorted(rec.times[route])
        p50, p99 = xs[len(xs) // 2], xs[min(len(xs) - 1, int(len(xs) * 0.99))]
        bad = sum(n for code, n in rec.statuses[route].items() if code >= 500)
        codes = dict(sorted(rec.statuses[route].items()))
        print(f"{route:<28} {len(xs):6d} {bad:5d} {p50:8.0f} {p99:8.0f}  {codes}")
    if rec.errors:
        print("client-side errors:", dict(rec.errors))
    with engine.connect() as conn:
        rows = conn.execute(
            select(InboxItem.activity_id, InboxItem.state).where(
                InboxItem.activity_id.in_(accepted_ids)
            )
        ).all()
        deliveries = conn.execute(
            select(OutboxActivity.ap_id, Delivery.inbox_url, Delivery.state, Delivery.attempts)
            .join(OutboxActivity, Delivery.activity_id == OutboxActivity.id)
            .where(Delivery.host.like("%.remote.test"))
        ).all()
    states = Counter(state for _, state in rows)
    print(
        f"\ninbox: {len(accepted_ids)} activities accepted (202), {len(rows)} stored, "
        f"by state {dict(states)}; missing {len(set(accepted_ids) - {r[0] for r in rows})}"
    )
    by_state = Counter(d.state for d in deliveries)
    sent = {(d.ap_id, d.inbox_url) for d in deliveries if d.state == "sent"}
    received = world.accepted
    lost = [k for k in sent if received[k] == 0]
    dup = {k: n for k, n in received.items() if n > 1}
    unexpected = [k for k in received if k not in sent]
    print(
        f"deliveries to the fake hosts: {len(deliveries)} by state {dict(by_state)}; "
        f"sent but not received: {len(lost)}; received more than once: {len(dup)}; "
        f"received but not recorded sent: {len(unexpected)}"
    )
    print("fake hosts' answers:", dict(sorted(world.answers.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--restart-postgres", action="store_true")
    parser.add_argument("--drain-limit", type=float, default=900, help="seconds (a killed "
                        "worker's claimed rows wait for their 10-minute lease)")  # fmt: skip
    parser.add_argument("--database-url", default=PG, help="server to create the database on")
    args = parser.parse_args()
    name = f"soak_{secrets.token_hex(4)}"
    admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(args.database_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url, pool_pre_ping=True)
    t0_box = [time.monotonic()]
    with tempfile.TemporaryDirectory(prefix="coopfed-soak-") as tmp:
        stack = LocalStack(Path(tmp), url)
        world = FakeFediverse(lambda: t0_box[0])
        stack.proxy("*.remote.test", world.port)
        undo = stack.patch_dns()
        rec, faults = Recorder(), []
        try:
            stack.start("anna", PASSWORD)
            seed_followers(engine)
            size0 = (
                engine.connect()
                .execute(text("SELECT pg_database_size(current_database())"))
                .scalar()
            )  # noqa: E501
            rss0 = {k: rss_mb(p) for k, p in processes(stack).items()}
            t0_box[0] = time.monotonic()
            wall0 = datetime.now(UTC)
            print(f"soak: {args.seconds:.0f} s of load on {url}")
            run_load(args, stack, world, rec, t0_box[0], faults)
            rss1 = {k: rss_mb(p) for k, p in processes(stack).items()}
            end_of_window = max(0.0, t0_box[0] + WINDOW[1] - time.monotonic())
            del end_of_window
            drained = drain(engine, args.drain_limit)
            print("faults:", "; ".join(faults) or "none")
            print(f"queues drained {drained:.0f} s after the load stopped" if drained is not None
                  else f"queues NOT drained within {args.drain_limit:.0f} s")  # fmt: skip
            h18_done = last_sent(engine, f"{UNAVAILABLE}.remote.test")
            if h18_done is not None:
                after = (h18_done - wall0).total_seconds() - WINDOW[1]
                print(f"{UNAVAILABLE} answered 503 until t={WINDOW[1]:.0f} s; its last delivery "
                      f"was sent {after:.0f} s after it recovered")  # fmt: skip
            report(engine, world, rec, args.accepted_ids)
            with engine.connect() as conn:
                size1 = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
            print(f"\ndatabase size: {size0 / 2**20:.1f} MB -> {size1 / 2**20:.1f} MB")
            print(f"\n{'process':<22} {'RSS start MB':>12} {'RSS end MB':>11}")
            for k in sorted(set(rss0) | set(rss1)):
                print(f"{k:<22} {rss0.get(k, 0):12.0f} {rss1.get(k, 0):11.0f}")
            errors = sum(
                ("Traceback" in (Path(tmp) / f"{n}.log").read_text(errors="replace"))
                for n in stack.procs
            )
            print(f"process logs with a traceback: {errors}")
        finally:
            stack.stop()
            undo()
            world.server.shutdown()
            engine.dispose()
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            admin.dispose()


if __name__ == "__main__":
    main()
