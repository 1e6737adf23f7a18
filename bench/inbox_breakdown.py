"""Where an accepted inbox POST's time goes, measured in one process, one thread: no load
generator, no gunicorn, so the parts add up (bench_federation.py measures the rate under load).

    uv run python bench/inbox_breakdown.py [--database-url URL] [-n 300]

Each part is timed on its own, ``n`` times, with distinct signed ``Create`` activities from a
sender whose key is cached (as after the first POST): the whole POST through the node's WSGI
app (environ built beforehand; node.ap.inbox.SharedInboxPath answers it, not Flask's
routes), the bare Flask app of the baseline the same way, ``NodeFederation.receive`` alone,
the signature verification alone (digest, header parsing, RSA-2048 verification), JSON
(parse with the shape checks, ``Activity.from_json``, the item's serialisation), and the
database: a pool checkout (a connection used moments ago is not pinged,
node.db.PING_AFTER_IDLE), the item's INSERT in autocommit (one round trip, waiting for the WAL
flush), and the same INSERT on a connection with ``synchronous_commit=off`` — only to tell the
flush wait from the round trip; the node never runs with it. Wall times in ms (CPU times beside
them): a sync gunicorn worker is busy for the wall time, waiting included.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_federation as bf  # noqa: E402
import bench_wsgi  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402

from federation import inbox_store, signatures, vocab  # noqa: E402


def timed(n: int, one: Callable[[int], Any]) -> tuple[float, float]:
    """(wall ms, CPU ms) per call of ``one(i)`` for i in range(n)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        one(i)
    return (time.perf_counter() - wall) * 1000 / n, (time.process_time() - cpu) * 1000 / n


def wsgi_post(app: Any, path: str, body: bytes, headers: dict[str, str]) -> Callable[[], int]:
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(
        path=path, method="POST", base_url="http://127.0.0.1", headers=headers, data=body
    ).get_environ()
    environ.update({"SERVER_NAME": "127.0.0.1", "SERVER_PORT": headers["Host"].split(":")[1]})
    status: list[str] = []

    def call() -> int:
        environ["wsgi.input"] = io.BytesIO(body)
        for _chunk in app(environ, lambda s, _h, _e=None: status.append(s)):
            pass
        return int(status[-1].split()[0])

    return call


def run(database_url: str, n: int) -> list[tuple[str, float, float]]:
    from sqlalchemy import text

    remote = bf.RemoteActorServer()
    tmp = Path(tempfile.mkdtemp(prefix="coopfed-breakdown-"))
    rows: list[tuple[str, float, float]] = []
    try:
        port = bf.free_port()
        bf.make_instance(tmp / "instance", port, database_url)
        app = bench_wsgi.node(str(tmp / "instance"))
        bare = bench_wsgi.bare()
        state = app.extensions["coopfed"]
        fed = state.federation_service()
        url = f"http://127.0.0.1:{port}/inbox"
        signed = remote.signed_creates(url, 2 + 5 * n)
        batches = [signed[2 + k * n : 2 + (k + 1) * n] for k in range(5)]
        for body, headers in signed[:2]:  # first contact: fetches and caches the key
            assert wsgi_post(app, "/inbox", body, headers)() == 202

        calls = [wsgi_post(app, "/inbox", b, h) for b, h in batches[0]]
        rows.append(("whole POST, node WSGI app", *timed(n, lambda i: calls[i]())))
        bare_calls = [wsgi_post(bare, "/inbox", b, h) for b, h in batches[0]]
        rows.append(("whole POST, bare Flask app", *timed(n, lambda i: bare_calls[i]())))

        def receive(i: int) -> None:
            body, headers = batches[1][i]
            assert fed.receive(url=url, headers=headers, body=body)[0] == 202

        rows.append(("  NodeFederation.receive", *timed(n, receive)))
        key = fed.inbox_keys.get(remote.key_id)
        assert key is not None

        def verify(i: int) -> None:
            body, headers = batches[2][i]
            signatures.verify_request("POST", url, headers, body, lambda _k, refresh=False: key)

        rows.append(("    signature verification", *timed(n, verify)))
        public = signatures.load_public_key(key.public_pem)
        private = serialization.load_pem_private_key(remote.private_pem.encode(), None)
        assert isinstance(private, rsa.RSAPrivateKey) and isinstance(public, rsa.RSAPublicKey)
        message = b"x" * 200
        sig = private.sign(message, padding.PKCS1v15(), hashes.SHA256())

        def rsa_verify(_i: int) -> None:
            public.verify(sig, message, padding.PKCS1v15(), hashes.SHA256())

        rows.append(("      of which RSA-2048 verify", *timed(n, rsa_verify)))

        def parse(i: int) -> None:
            doc = vocab.parse_json(batches[2][i][0])
            vocab.Activity.from_json(doc)
            json.dumps(doc, separators=(",", ":"), ensure_ascii=False)

        rows.append(("    JSON parse, checks, serialise", *timed(n, parse)))

        def checkout(_i: int) -> None:
            with state.engine.connect() as conn:
                conn.connection.dbapi_connection  # noqa: B018  (checked out; pinged only if idle)

        rows.append(("    pool checkout (no ping: just used)", *timed(n, checkout)))
        for label, fast in (("    INSERT, autocommit", False), ("      same, no flush wait", True)):
            rows.append((label, *insert_times(state.engine, batches[3 + fast], fast, text)))
    finally:
        remote.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def insert_times(engine: Any, batch: Any, fast: bool, text: Any) -> tuple[float, float]:
    """The item's INSERT, one per call, in autocommit on one connection; ``fast``: with
    ``synchronous_commit=off`` on this connection only (to measure the WAL flush wait)."""
    from sqlalchemy.orm import Session

    from federation.db import utcnow

    with Session(engine) as session:
        conn = session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        if fast and engine.dialect.name == "postgresql":
            conn.execute(text("SET synchronous_commit = off"))
        stmt = inbox_store.insert_statement(session)

        def one(i: int) -> None:
            doc = json.loads(batch[i][0])
            values = {
                "activity_id": doc["id"],
                "actor": doc["actor"],
                "type": "Create",
                "body": batch[i][0].decode(),
                "received_at": utcnow(),
            }
            conn.execute(stmt, values)

        result = timed(len(batch), one)
        if fast and engine.dialect.name == "postgresql":
            conn.execute(text("RESET synchronous_commit"))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=300, help="requests per part")
    ap.add_argument(
        "--database-url",
        default=os.environ.get("COOPFED_BENCH_DATABASE_URL", ""),
        help="PostgreSQL URL (empty: SQLite in a temporary folder)",
    )
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        url = args.database_url
        if url:
            url = stack.enter_context(bf.pg_schema(url))
        rows = run(url, args.n)
    print(f"database: {args.database_url or 'sqlite'}, {args.n} requests per part")
    print(f"{'part':40} {'wall ms':>8} {'CPU ms':>8}")
    for label, wall, cpu in rows:
        print(f"{label:40} {wall:8.2f} {cpu:8.2f}")


if __name__ == "__main__":
    main()
