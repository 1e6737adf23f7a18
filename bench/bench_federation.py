"""Federation benchmark on loopback, every figure beside a baseline measured in the same run.

    uv run python bench/bench_federation.py [--quick] [--threads 8] [--worker-threads 1]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/DB] [--only inbox]

a) inbox: signed ``Create(Note)`` activities accepted per second by a node under
   ``gunicorn -w 2`` (dev mode; sync workers, or gthread with ``--worker-threads N`` as
   deploy/gunicorn.conf.py runs it, N=4) vs a bare Flask app under the same gunicorn config that
   only reads the body. The remote actor's document is served by a tiny loopback server; its key
   is fetched once (warm-up request) and then comes from the node's cache. The requests are
   signed before the clock starts, so the load generator only sends. Only 2xx answers count,
   and every 202 must be a committed row (counted after the run). Beside the rate: the gunicorn
   workers' CPU time per POST (/proc), node vs bare. Target >= 50 % on SQLite, >= 70 % on
   PostgreSQL (issue 13), never with ``synchronous_commit=off``.
b) GET of the calls Group actor and of its WebFinger JRD vs a bare Flask hello-world under the
   same gunicorn config. Target >= 70 %.
c) fan-out (bench/federation_fanout.py): one activity to 2,000 followers on 500 receiving hosts
   (500 listening ports on 127.0.0.1, one asyncio server process, 4 followers per host sharing
   the host's inbox, so 500 deliveries). Time from ``outbox.publish`` to every delivery recorded
   ``sent`` by the real ``DeliveryWorker`` (concurrency 32), vs the time to compute the 500
   signatures alone. Target < 5 s.

The machine is shared and the load generator runs on it too: read the ratios, not the rates.
a) and b) run in alternating rounds (node, baseline, node, …) and keep each one's best round.
``--database-url`` (or COOPFED_BENCH_DATABASE_URL) runs the node on PostgreSQL instead of
SQLite, in a schema of its own that is dropped at the end.
Everything stops by itself (bounded request counts, servers killed at exit).

Where an accepted inbox POST's time goes on PostgreSQL (``bench/inbox_breakdown.py``: one
process, one thread, the parts timed apart; PostgreSQL 15 on this 2-core machine, 2026-11-30,
quiet). Before: the same on a machine loaded by other jobs (load average 10-15, so wall times
~4x CPU times), with the POST going through Flask's routes and hooks:

    part                                   before wall / CPU ms    now wall / CPU ms
    whole POST, node                         15.6   3.8              1.48   1.16
    whole POST, bare Flask app                0.65  0.29             0.16   0.16
      NodeFederation.receive                 12.8   3.0              0.96   0.71
        signature verification (digest,       0.36  0.16             0.07   0.07
          header parsing, RSA-2048 0.04 CPU)
        JSON parse, shape checks, serialise   0.27  0.14             0.05   0.05
        pool checkout (+ ping before)         0.78  0.26             0.02   0.02
        the item's INSERT (autocommit)        7.1   0.68             0.35   0.18
          same, synchronous_commit=off        2.1   0.55             0.22   0.14

- Commit flush: most of the INSERT's wall time is PostgreSQL waiting for the WAL fsync. A sync
  worker sits idle meanwhile. With gthread (the deploy's config) the waits overlap other
  requests and concurrent commits share a flush (group commit); then CPU decides.
- CPU under gunicorn -w 2 gthread x4 (this bench, 2026-11-30): 2.1-2.2 ms per accepted POST
  against 0.9-1.0 for bare Flask; the tree before this session's changes, same bench, same
  hour: 2.9-3.1 ms, and 63-65 % of the baseline's rate (now 79-86 %). What went:
  - Flask's request pipeline, ~0.4 ms: POSTs to the shared inbox paths are answered by
    ``node.ap.inbox.SharedInboxPath`` in front of Flask (request id, access log, metrics,
    security headers and errors kept; tests/ops/test_shared_inbox_path.py);
  - the pool's pre-ping, a round trip per checkout: only a connection idle for 5 s or more is
    pinged now (``node.db.PING_AFTER_IDLE``; a restart in between is one failed statement,
    which the request or the inbox retries, as for a restart between ping and statement);
  - the ORM Session around the autocommit INSERT (begin, commit, close of a transaction that
    ran nothing): the INSERT runs on a pooled connection of its own;
  - the whitespace check of ``is_http_iri``, a Python loop per character of two IRIs.
- Where the rest goes (in-process, 1.16 ms): SQLAlchemy's connection, execution and result
  layers around the one INSERT ~0.35 (psycopg itself ~0.15), the signature checks 0.07-0.2,
  JSON 0.05-0.1, the node's receive (session set-up, policy and origin checks, retry loop)
  ~0.2; gunicorn's own ~0.8 ms per request is in both figures. Left: the INSERT on the raw
  DBAPI connection (~0.25 ms less) would lose SQLAlchemy's error wrapping and statement
  events, on which the retries and the statement-count test rely.
- Round trips: an accepted POST from a known sender makes 1 (the INSERT in autocommit); it
  made 5 two sessions ago (pre-ping, BEGIN, SELECT of the sender's key, INSERT, COMMIT) and 2
  this morning. The sender's key comes from ``federation.inbox_keys`` (60 s, per process);
  tests/federation/node/test_inbox_statements.py pins the one statement.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import federation_fanout  # noqa: E402

from federation import signatures, vocab  # noqa: E402
from federation.keys import generate_rsa_keypair, main_key_id  # noqa: E402

AP_ACCEPT = "application/activity+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up in {timeout} s")


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the children of ``pid`` (gunicorn's workers;
    Linux /proc, 0.0 elsewhere)."""
    total = 0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for child in children:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14, 15)
    except OSError:
        return 0.0
    return total / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def gunicorn(
    app_spec: str, port: int, log: Path, workers: int = 2, threads: int = 1
) -> Iterator[tuple[str, int]]:
    """``gunicorn -w N [-k gthread --threads T] -b 127.0.0.1:PORT APP``; yields (base URL,
    master pid), kills it on exit.

    Its stderr (tracebacks of 500s) goes to ``log``; :func:`errors_in` summarises it."""
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "--pythonpath",
        f"{REPO / 'bench'},{REPO}",
        "--log-level",
        "warning",
        "--backlog",
        "2048",
        *(["-k", "gthread", "--threads", str(threads)] if threads > 1 else []),
        app_spec,
    ]
    stderr = log.open("w")
    proc = subprocess.Popen(cmd, cwd=REPO, start_new_session=True, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/")
        yield base, proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        stderr.close()


def errors_in(log: Path) -> list[str]:
    """Distinct exception lines (``module.Error: message``) of a gunicorn log."""
    found: dict[str, None] = {}
    for line in log.read_text(errors="replace").splitlines():
        head = line.split(":", 1)[0]
        if head.endswith(("Error", "Exception")) and " " not in head:
            found[line[:160]] = None
    return list(found)


# --------------------------------------------------------------------------- remote actor


class RemoteActorServer:
    """Serves one actor document (with its RSA public key) on loopback."""

    def __init__(self) -> None:
        self.public_pem, self.private_pem = generate_rsa_keypair()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.actor = f"{self.base}/users/alice"
        self.key_id = main_key_id(self.actor)
        doc = {
            "@context": [vocab.AS_CONTEXT, "https://w3id.org/security/v1"],
            "id": self.actor,
            "type": "Person",
            "preferredUsername": "alice",
            "inbox": f"{self.actor}/inbox",
            "outbox": f"{self.actor}/outbox",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "publicKey": {"id": self.key_id, "owner": self.actor, "publicKeyPem": self.public_pem},
        }
        body = json.dumps(doc).encode()
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", vocab.ACTIVITY_JSON)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def signed_creates(self, inbox_url: str, n: int) -> list[tuple[bytes, dict[str, str]]]:
        """``n`` distinct Create activities (Note and Page alternately), signed for inbox_url."""
        out = []
        for i in range(n):
            oid = f"{self.actor}/objects/{secrets.token_hex(8)}"
            obj = {
                "id": oid,
                "type": "Note" if i % 2 else "Page",
                "attributedTo": self.actor,
                "content": f"activity {i}",
                "to": [vocab.PUBLIC],
            }
            act = {
                "@context": vocab.AS_CONTEXT,
                "id": f"{oid}/activity",
                "type": "Create",
                "actor": self.actor,
                "object": obj,
                "to": [vocab.PUBLIC],
            }
            body = json.dumps(act).encode()
            headers = signatures.sign_request(
                "POST",
                inbox_url,
                {"Content-Type": vocab.ACTIVITY_JSON},
                body,
                self.key_id,
                self.private_pem,
            )
            out.append((body, headers))
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- load generator


def load(
    send: Callable[[requests.Session, int], int], n: int, threads: int
) -> tuple[float, dict[int, int]]:
    """Run ``send(session, i)`` for i in range(n) on ``threads`` threads.

    Returns (2xx answers per second, counts by status)."""
    counts: dict[int, int] = {}
    lock = threading.Lock()
    local = threading.local()

    def one(i: int) -> None:
        session = getattr(local, "s", None)
        if session is None:
            session = local.s = requests.Session()
        status = send(session, i)
        with lock:
            counts[status] = counts.get(status, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(n)))
    # Only successful answers count: a 500 is fast but accepts nothing.
    ok = sum(v for k, v in counts.items() if 200 <= k < 300)
    return ok / (time.perf_counter() - started), counts


@contextlib.contextmanager
def pg_schema(database_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for one run; yields a URL whose connections use it only.

    Never the ``public`` schema: the test database is shared with the test suite."""
    from sqlalchemy import text

    from node import db as node_db

    schema = "bench_" + secrets.token_hex(4)
    admin = node_db.make_engine(database_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in database_url else "?"
    try:
        yield f"{database_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def make_instance(folder: Path, port: int, database_url: str) -> None:
    from node import db as node_db
    from node.settings import Settings, write_settings_file

    folder.mkdir(parents=True, exist_ok=True)
    values = {
        "domain": f"127.0.0.1:{port}",
        "name": "Bench coop",
        "country": "BE",
        "secret_key": secrets.token_hex(16),
        "dev_mode": True,
        "worker_in_process": False,
    }
    if database_url:
        values["database_url"] = database_url
    write_settings_file(folder / "coopfed.toml", values)
    settings = Settings.load(folder)
    engine = node_db.make_engine(settings.sqlalchemy_url)
    node_db.upgrade(engine)
    engine.dispose()


def stored_items(instance: Path) -> int:
    """Inbox items the node committed (read back on a connection of our own)."""
    from sqlalchemy import func, select

    from federation.models import InboxItem
    from node import db as node_db
    from node.settings import Settings

    engine = node_db.make_engine(Settings.load(instance).sqlalchemy_url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(InboxItem)) or 0)
    finally:
        engine.dispose()


def bench_http(args: argparse.Namespace, rows: list[tuple[str, str, str, str, str]]) -> None:
    """Both servers run side by side; rounds alternate node and baseline so that a noisy
    neighbour hurts both; the best round of each is kept."""
    # Rounds of a few seconds each: at 1,000 POSTs (under 2 s) one noisy second decided the
    # baseline's best round, and the ratio swung 58-95 % between runs of the same tree.
    rounds = 2 if args.quick else 4
    wt = args.worker_threads
    n_inbox = 200 if args.quick else 2500
    n_get = 300 if args.quick else 1000
    remote = RemoteActorServer()
    tmp = Path(tempfile.mkdtemp(prefix="coopfed-bench-"))
    best: dict[str, tuple[float, dict[int, int]]] = {}
    # name -> [server CPU seconds, requests, 202 answers], summed over all rounds
    cpu: dict[str, list[float]] = {}

    def keep(name: str, pid: int, send: Callable[[requests.Session, int], int], n: int) -> None:
        before = tree_cpu(pid)
        result = load(send, n, args.threads)
        used = cpu.setdefault(name, [0.0, 0, 0])
        used[0] += tree_cpu(pid) - before
        used[1] += n
        used[2] += result[1].get(202, 0)
        if name not in best or result[0] > best[name][0]:
            best[name] = result

    try:
        port, bport = free_port(), free_port()
        make_instance(tmp / "instance", port, args.database_url)
        inbox_url = f"http://127.0.0.1:{port}/inbox"
        print(f"signing {rounds * n_inbox + 2} activities …", flush=True)
        signed = remote.signed_creates(inbox_url, rounds * n_inbox + 2)
        warm, signed = signed[:2], signed[2:]

        def post(base: str, offset: int) -> Callable[[requests.Session, int], int]:
            def send(session: requests.Session, i: int) -> int:
                body, headers = signed[offset + i]
                response = session.post(base + "/inbox", data=body, headers=headers, timeout=60)
                return response.status_code

            return send

        def get(url: str, accept: str | None) -> Callable[[requests.Session, int], int]:
            headers = {"Accept": accept} if accept else {}

            def send(session: requests.Session, _i: int) -> int:
                return session.get(url, headers=headers, timeout=60).status_code

            return send

        with (
            gunicorn(
                f'bench_wsgi:node("{tmp / "instance"}")', port, tmp / "node.log", threads=wt
            ) as (base, pid),
            gunicorn("bench_wsgi:bare()", bport, tmp / "bare.log", threads=wt) as (bbase, bpid),
        ):
            # Warm-up: the key fetch (once; the cache is in the database), the calls actor's
            # key generation, first-request imports in every worker.
            for body, headers in warm:
                r = requests.post(base + "/inbox", data=body, headers=headers, timeout=60)
                if r.status_code != 202:
                    raise RuntimeError(f"warm-up POST refused: {r.status_code} {r.text}")
            for _ in range(4):
                requests.get(base + "/groups/calls", headers={"Accept": AP_ACCEPT}, timeout=60)
                requests.get(bbase + "/hello", timeout=60)
            fetches_before = remote.fetches
            wf = f"{base}/.well-known/webfinger?resource=acct:calls@127.0.0.1:{port}"
            for r in range(rounds):
                print(f"round {r + 1}/{rounds} …", flush=True)
                keep("bare_post", bpid, post(bbase, r * n_inbox), n_inbox)
                keep("inbox", pid, post(base, r * n_inbox), n_inbox)
                if args.only == "inbox":
                    continue
                keep("bare_get", bpid, get(bbase + "/hello", None), n_get)
                keep("actor", pid, get(base + "/groups/calls", AP_ACCEPT), n_get)
                keep("webfinger", pid, get(wf, None), n_get)
            key_fetches = remote.fetches - fetches_before
        for line in errors_in(tmp / "node.log") + errors_in(tmp / "bare.log"):
            print(f"server error: {line}", flush=True)
        stored = stored_items(tmp / "instance")
    finally:
        remote.close()
        shutil.rmtree(tmp, ignore_errors=True)

    def fmt(name: str) -> str:
        rate, counts = best[name]
        bad = {k: v for k, v in counts.items() if k not in (200, 202)}
        return f"{rate:8.0f}/s" + (f" (non-2xx: {bad})" if bad else "")

    def ms(name: str) -> str:
        seconds, n, _ok = cpu[name]
        return f"{seconds / n * 1000:5.2f} ms"

    config = "gunicorn -w 2" + (f" gthread x{wt}" if wt > 1 else " sync")
    base_post = best["bare_post"][0]
    target = ">= 70 %" if args.database_url else ">= 50 %"
    rows.append(
        (
            f"inbox: signed Create accepted ({config})",
            fmt("inbox"),
            "bare Flask POST " + fmt("bare_post"),
            f"{best['inbox'][0] / base_post:6.1%}",
            target,
        )
    )
    rows.append(("  server CPU per POST (workers)", ms("inbox"), "bare " + ms("bare_post"), "", ""))
    # Every 202 must be a committed row (warm-up included): the rate counts nothing unstored.
    accepted = 2 + int(cpu["inbox"][2])
    rows.append(("  inbox items stored / 202 answers", str(stored), str(accepted), "", "equal"))
    rows.append(("  key fetches during the timed runs", str(key_fetches), "", "", "0"))
    if args.only == "inbox":
        return
    base_get = best["bare_get"][0]
    for name in ("actor", "webfinger"):
        rows.append(
            (
                f"GET {name} (calls Group)",
                fmt(name),
                "bare Flask hello " + fmt("bare_get"),
                f"{best[name][0] / base_get:6.1%}",
                ">= 70 %",
            )
        )


def print_table(rows: list[tuple[str, str, str, str, str]]) -> None:
    head = ("measure", "coopfed", "baseline (same run)", "ratio", "target")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer requests, 100 hosts")
    ap.add_argument("--threads", type=int, default=8, help="load generator threads")
    ap.add_argument(
        "--worker-threads",
        type=int,
        default=1,
        help="threads per gunicorn worker, both servers (1: sync workers; "
        "deploy/gunicorn.conf.py runs gthread with 4)",
    )
    ap.add_argument(
        "--database-url",
        default=os.environ.get("COOPFED_BENCH_DATABASE_URL", ""),
        help="PostgreSQL URL (empty: SQLite in a temporary folder)",
    )
    ap.add_argument(
        "--only", choices=("http", "inbox", "fanout"), help="run one part only (inbox: a only)"
    )
    args = ap.parse_args()
    rows: list[tuple[str, str, str, str, str]] = []
    print(f"cores: {os.cpu_count()}, database: {args.database_url or 'sqlite'}", flush=True)
    if args.database_url and not args.database_url.startswith("postgresql"):
        ap.error("--database-url must be a PostgreSQL URL (SQLite is the default)")
    with contextlib.ExitStack() as stack:
        if args.database_url:
            args.database_url = stack.enter_context(pg_schema(args.database_url))
        if args.only in (None, "http", "inbox"):
            bench_http(args, rows)
        if args.only in (None, "fanout"):
            federation_fanout.bench_fanout(args, rows)
    print_table(rows)


if __name__ == "__main__":
    main()
