"""Soak: mixed load with faults against the production setup on PostgreSQL, bounded, then checks.

    uv run python bench/soak.py [--seconds 600] [--restart-postgres]      (make soak: both)

Brings up a private PostgreSQL cluster (deploy/local_stack.LocalPostgres: initdb + pg_ctl on a
free loopback port; the machine's own server is not touched) and deploy/local_stack.py on it
(the deploy guide on loopback: gunicorn with 2 web workers, 2 ``coopfed worker`` processes,
nginx TLS with a local CA), and a fake fediverse behind the same nginx: 20 hosts
``h0…h19.remote.test`` served by one loopback server. Then, for ``--seconds``:

- signed inbox POSTs (Create/Note) from 100 remote actors (h0–h9), ~4 per second, after each
  actor's Follow of the calls Group (answered with an Accept by the node);
- page views and API calls of signed-in members, and the call page with its matches;
- every 30 s a public call published with the web form: fanned out to 2,000 followers of the
  Group (100 per host; h0–h9 have shared inboxes, h10–h19 not: ~1,010 deliveries each);
- receiving hosts: h14, h15 slow (2 s per POST), h16 answers 500 to a third of POSTs, h17 has
  gone (410), h18 answers 503 with Retry-After: 60 for 2 minutes;
- faults (times for 600 s, scaled to shorter runs): h18's 503 window t=30–150 s; kill -9 of a
  ``coopfed worker`` 2 s after the fan-out at t=210 s (restarted 2 s later, as systemd does);
  kill -9 of a gunicorn web worker at t=270 s (gunicorn replaces it); with
  ``--restart-postgres`` ``pg_ctl restart -m fast`` of the cluster at t=330 s.

The load stops by itself; the script waits (at most ``--drain-limit``) for the delivery and inbox
queues to drain and reports (stdout, and markdown in bench/results/soak-<UTC time>.md):
responses by route (5xx count, p50/p99), accepted activities vs processed, deliveries vs
receipts (lost, duplicated), drain times after the 503 window and after the kills, RSS and USS of
every process at start and end, database size growth, the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine, make_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from deploy.local_stack import LocalPostgres, LocalStack, free_port  # noqa: E402
from federation import signatures, vocab  # noqa: E402
from federation.delivery import DEFAULT_LEASE  # noqa: E402
from federation.keys import generate_rsa_keypair, main_key_id  # noqa: E402
from federation.models import Delivery, Follower, InboxItem, OutboxActivity  # noqa: E402

PASSWORD = "a long soak password"
SKILL = "http://data.europa.eu/esco/skill/91fc256e-00ec-4367-b3b4-dcd564ed3fd2"
N_HOSTS, SENDING_HOSTS, ACTORS_PER_HOST, FOLLOWERS_PER_HOST = 20, 10, 10, 100
SLOW, FLAKY, GONE, UNAVAILABLE = {"h14", "h15"}, "h16", "h17", "h18"
RESULTS = REPO / "bench" / "results"
DELIVERY_LEASE = DEFAULT_LEASE.total_seconds()


class Schedule:
    """When the faults happen, for a run of ``seconds`` (the 600-s times, scaled down)."""

    def __init__(self, seconds: float, restart_postgres: bool) -> None:
        f = min(1.0, seconds / 600)
        self.window = (30 * f, 150 * f)  # h18 answers 503 (Retry-After: 60)
        self.faults = [(212 * f, "kill -9 worker1"), (270 * f, "kill -9 a web worker")]
        if restart_postgres:
            self.faults.append((330 * f, "restart PostgreSQL"))


class FakeFediverse:
    """The remote hosts: actor documents with keys, inboxes recording what they accepted."""

    def __init__(self, started: Callable[[], float], window: tuple[float, float]) -> None:
        self.started = started
        self.window = window
        self.keys = {f"h{i}": generate_rsa_keypair() for i in range(SENDING_HOSTS)}
        self.lock = threading.Lock()
        self.accepted: Counter[tuple[str, str]] = Counter()  # (activity id, inbox url) -> 2xx
        self.answers: Counter[str] = Counter()
        self.failed: Counter[tuple[str, str]] = Counter()  # 500s given per (activity, path)
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
                activity = json.loads(body).get("id", "")
                status, headers = outer.answer(host, (activity, self.path))
                if host in SLOW:
                    time.sleep(2)
                if 200 <= status < 300:
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

    def answer(self, host: str, delivery: tuple[str, str]) -> tuple[int, dict[str, str]]:
        now = time.monotonic() - self.started()
        if host == GONE:
            return 410, {}
        if host == UNAVAILABLE and self.window[0] <= now < self.window[1]:
            return 503, {"Retry-After": "60"}
        if host == FLAKY and random.random() < 1 / 3:
            # At most twice in a row for one delivery: the node's backoff doubles per attempt
            # (30 s, 1, 2, 4, 8 min…), so a run of bad luck would keep the queue from draining
            # for longer than the soak itself; the flakiness is what is under test, not luck.
            with self.lock:
                self.failed[delivery] += 1
                if self.failed[delivery] <= 2:
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


def memory_row(
    name: str, start: tuple[float, float] | None, end: tuple[float, float] | None
) -> str:
    """A process's row of the report's memory table (a replaced process: one side empty)."""
    (r0, u0), (r1, u1) = start or (0.0, 0.0), end or (0.0, 0.0)
    note = "" if start and end else " (replaced)"
    return f"| {name}{note} | {r0:.0f} | {r1:.0f} | {u0:.0f} | {u1:.0f} |"


def mem_mb(pid: int) -> tuple[float, float]:
    """(RSS, USS) in MB. A web worker's RSS also counts the master's pages it has touched
    (the vocabulary, the match index: shared copy-on-write); USS is what it holds alone."""
    kb: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                kb[parts[0].rstrip(":")] = int(parts[1])
    except OSError:
        return 0.0, 0.0
    uss = kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0)
    return kb.get("Rss", 0) / 1024, uss / 1024


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


class Faults:
    """What was injected when, and what each fault left to measure afterwards."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.killed_worker_rows: list[int] = []  # deliveries leased to the killed worker
        self.worker_killed_at: datetime | None = None
        self.web_replaced_after: float | None = None
        self.pg_restart_seconds: float | None = None
        self.pg_restarted_at: datetime | None = None


def leased_to(engine: Engine, pid: int) -> list[int]:
    """Deliveries leased now to the worker process ``pid`` (its worker id names the pid)."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(Delivery.id).where(
                    Delivery.claimed_by.like(f"%-{pid}-%"),
                    Delivery.state == "pending",
                    Delivery.claimed_until.is_not(None),
                )
            ).scalars()
        )


def inject(what: str, stack: LocalStack, args: argparse.Namespace, faults: Faults,
           t0: float) -> None:  # fmt: skip
    faults.log.append(f"t={time.monotonic() - t0:.0f} s {what}")
    if what == "kill -9 worker1":
        pid = stack.procs["worker1"].pid
        waited = time.monotonic()  # kill it mid-batch: once it holds leased deliveries
        while time.monotonic() - waited < 40 and not leased_to(args.engine, pid):
            time.sleep(0.2)
        stack.procs["worker1"].send_signal(signal.SIGKILL)
        stack.procs["worker1"].wait()
        faults.worker_killed_at = datetime.now(UTC)
        # What it held: other workers take these over when the lease runs out.
        faults.killed_worker_rows = leased_to(args.engine, pid)
        faults.log[-1] += f" (pid {pid}, {len(faults.killed_worker_rows)} deliveries leased)"
        time.sleep(2)  # systemd's RestartSec=2
        stack.start_worker(1)
    elif what == "kill -9 a web worker":
        before = stack.web_workers()
        os.kill(before[0], signal.SIGKILL)
        started = time.monotonic()
        while time.monotonic() - started < 60:
            now = stack.web_workers()
            if len(now) == len(before) and before[0] not in now:
                faults.web_replaced_after = time.monotonic() - started
                break
            time.sleep(0.05)
        faults.log[-1] += f" (pid {before[0]})"
    else:
        started = time.monotonic()
        faults.pg_restarted_at = datetime.now(UTC)
        args.postgres.restart()
        faults.pg_restart_seconds = time.monotonic() - started


# size: the whole scenario (senders, members, publisher, fault schedule), read top to bottom
def run_load(args: argparse.Namespace, stack: LocalStack, world: FakeFediverse,
             rec: Recorder, t0: float, faults: Faults) -> None:  # fmt: skip
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
    for at, what in args.schedule.faults:
        if at >= args.seconds:
            continue
        time.sleep(max(0.0, t0 + at - time.monotonic()))
        inject(what, stack, args, faults, t0)
    time.sleep(max(0.0, t0 + args.seconds - time.monotonic()))
    stop.set()
    for t in threads:
        t.join(60)
    args.accepted_ids = accepted_ids


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


def percentile(xs: list[float], q: float) -> float:
    return xs[min(len(xs) - 1, int(len(xs) * q))] if xs else 0.0


def routes_table(rec: Recorder) -> list[str]:
    out = ["| route | n | 5xx | p50 ms | p99 ms | statuses |", "|---|---:|---:|---:|---:|---|"]
    for route in sorted(rec.times):
        xs = sorted(rec.times[route])
        bad = sum(n for code, n in rec.statuses[route].items() if code >= 500)
        codes = dict(sorted(rec.statuses[route].items()))
        out.append(f"| {route} | {len(xs)} | {bad} | {percentile(xs, 0.5):.0f} | "
                   f"{percentile(xs, 0.99):.0f} | {codes} |")  # fmt: skip
    if rec.errors:
        out.append(f"\nclient-side errors (no HTTP answer): {dict(rec.errors)}")
    return out


def recovery(
    engine: Engine, args: argparse.Namespace, faults: Faults, wall0: datetime
) -> list[str]:
    """Drain times: h18's backlog after its 503 window, the killed worker's leased rows."""
    out = []
    end = wall0 + timedelta(seconds=args.schedule.window[1])
    with engine.connect() as conn:
        backlog = conn.execute(
            select(func.count(), func.max(Delivery.sent_at), func.sum(Delivery.attempts)).where(
                Delivery.host == f"{UNAVAILABLE}.remote.test", Delivery.created_at < end
            )
        ).one()
        killed = conn.execute(
            select(Delivery.state, func.count(), func.max(Delivery.sent_at))
            .where(Delivery.id.in_(faults.killed_worker_rows))
            .group_by(Delivery.state)
        ).all()
    if backlog[1] is not None:
        w0, w1 = args.schedule.window
        out.append(f"- {UNAVAILABLE} answered 503 (Retry-After: 60)"
                   f" from t={w0:.0f} to t={w1:.0f} s:"
                   f" the last of its {backlog[0]} deliveries made before t={w1:.0f} s"
                   f" ({backlog[2]} attempts in all) was sent"
                   f" {(backlog[1] - end).total_seconds():.0f} s after it recovered")  # fmt: skip
    if faults.worker_killed_at is not None:
        done = {state: (n, last) for state, n, last in killed}
        lasts = [last for _, last in done.values() if last is not None]
        after = f"{(max(lasts) - faults.worker_killed_at).total_seconds():.0f} s" if lasts else "-"
        out.append(f"- kill -9 of worker1: {len(faults.killed_worker_rows)} deliveries were leased "
                   f"to it; by state now {({k: v[0] for k, v in done.items()})}; the last of them "
                   f"sent {after} after the kill (lease {DELIVERY_LEASE:.0f} s)")  # fmt: skip
    if faults.web_replaced_after is not None:
        out.append(f"- kill -9 of a web worker: gunicorn had a new one "
                   f"{faults.web_replaced_after:.1f} s later")  # fmt: skip
    if faults.pg_restart_seconds is not None:
        out.append(
            f"- PostgreSQL restart (pg_ctl restart -m fast): {faults.pg_restart_seconds:.1f} s"
        )
    return out


def integrity(engine: Engine, world: FakeFediverse, accepted_ids: list[str]) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(InboxItem.activity_id, InboxItem.state).where(
                InboxItem.activity_id.in_(accepted_ids)
            )
        ).all()
        deliveries = conn.execute(
            select(OutboxActivity.ap_id, Delivery.inbox_url, Delivery.state, Delivery.claimed_until)
            .join(OutboxActivity, Delivery.activity_id == OutboxActivity.id)
            .where(Delivery.host.like("%.remote.test"))
        ).all()
    states = Counter(state for _, state in rows)
    per_id = Counter(r[0] for r in rows)
    missing = set(accepted_ids) - set(per_id)
    by_state = Counter(d.state for d in deliveries)
    sent = {(d.ap_id, d.inbox_url) for d in deliveries if d.state == "sent"}
    received = world.accepted
    lost = [k for k in sent if received[k] == 0]
    dup = {k: n for k, n in received.items() if n > 1}
    # A POST received but not (yet) recorded: in flight while the workers still run (the
    # queue not drained), or received from a killed worker and waiting to be sent again.
    state_of = {(d.ap_id, d.inbox_url): (d.state, d.claimed_until is not None) for d in deliveries}
    unexpected = Counter(
        "in flight (leased)" if state_of.get(k, ("?", False))[1] else state_of.get(k, ("?",))[0]
        for k in received
        if k not in sent
    )
    return [
        f"- inbox: {len(accepted_ids)} activities accepted (202), {len(rows)} stored "
        f"({sum(1 for n in per_id.values() if n > 1)} more than once), by state {dict(states)}; "
        f"accepted but missing: {len(missing)}",
        f"- deliveries to the fake hosts: {len(deliveries)}, by state {dict(by_state)}; "
        f"**sent but not received: {len(lost)}; received more than once: {len(dup)}**; "
        f"received but not recorded sent: {sum(unexpected.values())} {dict(unexpected)}",
        f"- fake hosts' answers: {dict(sorted(world.answers.items()))}",
    ]


def _json_field(line: str, field: str) -> str | None:
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line).get(field)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def log_counts(folder: Path, names: list[str]) -> list[str]:
    """What the processes logged about the faults (JSON logs, one event a line), and the last
    line of every traceback (the exception), counted."""
    words = {
        "requests retried after a database failure": "request retried after a database",
        "inbox POSTs retried": "inbox POST retried",
        "worker jobs with a transient failure": 'coopfed.worker", "msg": "worker job',
        "delivery leases not renewed": "leases not renewed",
        "lost leases": "lost the lease",
    }
    text = {n: (folder / f"{n}.log").read_text(errors="replace") for n in names}
    out = [f"- {label}: " + ", ".join(f"{n} {t.count(w)}" for n, t in text.items() if w in t)
           if any(w in t for t in text.values()) else f"- {label}: none"
           for label, w in words.items()]  # fmt: skip
    errors: Counter[str] = Counter()
    for name, t in text.items():
        for line in t.splitlines():
            # JSON logs carry a traceback in "exc"; the last line of it names the exception.
            exc = _json_field(line, "exc")
            if exc:
                named = [x for x in exc.splitlines() if re.match(r"[A-Za-z_][\w.]*: ", x)]
                named = [x for x in named if not x.startswith("DETAIL")]
                errors[f"{name}: {(named or exc.splitlines() or [''])[-1][:300]}"] += 1
        plain = "\n".join(line for line in t.splitlines() if not line.startswith("{"))
        traceback = r"Traceback \(most recent call last\):.*?\n(\S[^\n]*)"
        for found in re.finditer(traceback, plain, re.S):
            errors[f"{name}: {found.group(1)[:300]}"] += 1
    out.append(f"- tracebacks: {sum(errors.values()) or 'none'}")
    out += [f"  - {n} x {line}" for line, n in errors.most_common()]
    return out


def keep_logs(folder: Path, names: list[str], stamp: str) -> Path:
    """The processes' logs next to the report (the run's folder is temporary)."""
    logs = RESULTS / f"soak-{stamp}-logs"
    logs.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(folder / f"{name}.log", logs / f"{name}.log")
    return logs


def size_of(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--restart-postgres", action="store_true",
                        help="restart the private PostgreSQL cluster mid-run")  # fmt: skip
    parser.add_argument("--drain-limit", type=float, default=300, help="seconds")
    parser.add_argument("--database-url", help="use this server (an empty database is made "
                        "on it), not a private cluster; not with --restart-postgres")  # fmt: skip
    args = parser.parse_args()
    if args.database_url and args.restart_postgres:
        parser.error("--restart-postgres restarts the private cluster only")
    args.schedule = Schedule(args.seconds, args.restart_postgres)
    args.postgres = None
    if args.database_url is None:
        args.postgres = LocalPostgres()
        args.postgres.start()
    server = args.database_url or args.postgres.url()
    name = f"soak_{secrets.token_hex(4)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        run(args, url)
    finally:
        if args.database_url:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
        if args.postgres is not None:
            args.postgres.stop()


def run(args: argparse.Namespace, url: str) -> None:
    engine = args.engine = create_engine(url, pool_pre_ping=True)
    t0_box = [time.monotonic()]
    with tempfile.TemporaryDirectory(prefix="coopfed-soak-") as tmp:
        stack = LocalStack(Path(tmp), url)
        world = FakeFediverse(lambda: t0_box[0], args.schedule.window)
        stack.proxy("*.remote.test", world.port)
        undo = stack.patch_dns()
        rec, faults = Recorder(), Faults()
        try:
            stack.start("anna", PASSWORD)
            seed_followers(engine)
            size0 = size_of(engine)
            rss0 = {k: mem_mb(p) for k, p in processes(stack).items()}
            load0 = os.getloadavg()
            t0_box[0] = time.monotonic()
            wall0 = datetime.now(UTC)
            print(f"soak: {args.seconds:.0f} s of load on {url}", flush=True)
            run_load(args, stack, world, rec, t0_box[0], faults)
            load1 = os.getloadavg()
            rss1 = {k: mem_mb(p) for k, p in processes(stack).items()}
            drained = drain(engine, args.drain_limit)
            size1 = size_of(engine)
            lines = [
                f"# Soak {wall0:%Y-%m-%d %H:%M} UTC: {args.seconds:.0f} s",
                "",
                f"Command: `{' '.join(['python', *sys.argv])}`  ",
                f"Machine: {os.cpu_count()} CPUs shared with other work; load average "
                f"(1/5/15 min) {load0[0]:.1f}/{load0[1]:.1f}/{load0[2]:.1f} at the start, "
                f"{load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f} at the end of the load.",
                "",
                "## Faults",
                *[f"- {f}" for f in faults.log],
                "",
                "## Responses (through nginx TLS)",
                *routes_table(rec),
                "",
                "## Nothing lost, nothing twice",
                *integrity(engine, world, args.accepted_ids),
                "",
                "## Recovery",
                "- queues (deliveries, inbox) drained " + (
                    f"{drained:.0f} s after the load stopped" if drained is not None
                    else f"NOT within {args.drain_limit:.0f} s"),
                *recovery(engine, args, faults, wall0),
                "",
                "## Logs",
                *log_counts(Path(tmp), list(stack.procs)),
                "",
                "## Resources",
                f"- database size: {size0 / 2**20:.1f} MB -> {size1 / 2**20:.1f} MB",
                "",
                "| process | RSS start MB | RSS end MB | USS start MB | USS end MB |",
                "|---|---:|---:|---:|---:|",
                *[memory_row(k, rss0.get(k), rss1.get(k)) for k in sorted(set(rss0) | set(rss1))],
            ]  # fmt: skip
            report = "\n".join(lines) + "\n"
            print(report)
            RESULTS.mkdir(exist_ok=True)
            out = RESULTS / f"soak-{wall0:%Y%m%d-%H%M}.md"
            out.write_text(report)
            logs = keep_logs(Path(tmp), list(stack.procs), f"{wall0:%Y%m%d-%H%M}")
            print(f"written to {out}; the processes' logs in {logs}")
        finally:
            stack.stop()
            undo()
            world.server.shutdown()
            engine.dispose()


if __name__ == "__main__":
    main()
