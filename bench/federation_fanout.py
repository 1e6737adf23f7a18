"""Part c) of bench_federation.py: fan-out of one activity to 2,000 followers on 500 loopback
hosts by the real ``DeliveryWorker`` (see that module's docstring)."""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from federation import signatures, vocab  # noqa: E402
from federation.keys import generate_rsa_keypair, main_key_id  # noqa: E402

RECEIVER = textwrap.dedent(
    """
    import asyncio, sys, json
    counts = {}
    async def handle(reader, writer):
        port = writer.get_extra_info("sockname")[1]
        try:
            while True:
                head = await reader.readuntil(b"\\r\\n\\r\\n")
                lines = head.decode("latin-1").split("\\r\\n")
                path = lines[0].split(" ")[1]
                length = 0
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                if length:
                    await reader.readexactly(length)
                key = f"{port}{path}"
                counts[key] = counts.get(key, 0) + 1
                writer.write(b"HTTP/1.1 202 Accepted\\r\\nContent-Length: 0\\r\\n\\r\\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
    async def main():
        ports = [int(p) for p in sys.argv[1:]]
        servers = [await asyncio.start_server(handle, "127.0.0.1", p, backlog=256) for p in ports]
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        line = await loop.run_in_executor(None, sys.stdin.readline)
        print(json.dumps(counts), flush=True)
    asyncio.run(main())
    """
)


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def bench_fanout(args: argparse.Namespace, rows: list[tuple[str, str, str, str, str]]) -> None:
    from datetime import timedelta

    from sqlalchemy import func, select

    from federation import outbox
    from federation.db import Base
    from federation.delivery import DeliveryWorker
    from federation.models import Delivery, Follower
    from federation.transport import Transport
    from node import db as node_db

    n_hosts = 100 if args.quick else 500
    per_host = 4
    ports = free_ports(n_hosts)
    receiver = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, *map(str, ports)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix="coopfed-fanout-"))
    try:
        assert receiver.stdout is not None and receiver.stdin is not None
        if receiver.stdout.readline().strip() != "ready":
            raise RuntimeError("receiver did not start")
        engine = node_db.make_engine(args.database_url or f"sqlite:///{tmp / 'fanout.db'}")
        Base.metadata.create_all(engine)
        sm = node_db.make_sessionmaker(engine)
        local = "http://127.0.0.1:1/groups/calls"
        _pub, private_pem = generate_rsa_keypair()
        key = (main_key_id(local), private_pem)
        with sm() as s, s.begin():
            for h, port in enumerate(ports):
                for u in range(per_host):
                    actor = f"http://127.0.0.1:{port}/users/u{h}_{u}"
                    s.add(
                        Follower(
                            local_actor=local,
                            follower=actor,
                            follower_inbox=f"{actor}/inbox",
                            shared_inbox=f"http://127.0.0.1:{port}/inbox",
                            accepted=True,
                        )
                    )
        n_followers = n_hosts * per_host
        activity = {
            "@context": vocab.AS_CONTEXT,
            "id": f"{local}#announces/{secrets.token_hex(8)}",
            "type": "Announce",
            "actor": local,
            "object": {
                "id": "http://127.0.0.1:1/calls/x",
                "type": "Page",
                "name": "A call to everybody",
                "content": "x" * 1500,
            },
            "to": [vocab.PUBLIC],
            "cc": [f"{local}/followers"],
        }
        transport = Transport("coopfed-bench", dev_mode=True)
        worker = DeliveryWorker(
            sm,
            transport,
            lambda actor: key if actor == local else None,
            "bench-worker",
            concurrency=32,
            batch_size=100,
            lease=timedelta(minutes=5),
        )
        started = time.perf_counter()
        with sm() as s, s.begin():
            outbox.publish(s, activity, actor_iri=local, targets="followers")
        steps = 0
        while steps < 1000:
            steps += 1
            worker.run_once()
            with sm() as s:
                pending = s.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.state == "pending")
                )
            if not pending:
                break
        elapsed = time.perf_counter() - started
        with sm() as s:
            states = dict(
                s.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all()
            )
        transport.close()
        engine.dispose()

        # Baseline: only the signatures the same deliveries need.
        body = json.dumps(activity).encode()
        t0 = time.perf_counter()
        for port in ports:
            signatures.sign_request(
                "POST",
                f"http://127.0.0.1:{port}/inbox",
                {"Content-Type": vocab.ACTIVITY_JSON},
                body,
                *key,
            )
        sign_time = time.perf_counter() - t0

        receiver.stdin.write("done\n")
        receiver.stdin.flush()
        counts = json.loads(receiver.stdout.readline())
        received = sum(counts.values())
        exactly_once = len(counts) == n_hosts and all(v == 1 for v in counts.values())
    finally:
        with contextlib.suppress(ProcessLookupError):
            receiver.kill()
        receiver.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    rows.append(
        (
            f"fan-out: {n_followers} followers / {n_hosts} hosts, publish -> all sent",
            f"{elapsed:8.2f} s",
            f"{n_hosts} signatures only {sign_time:6.2f} s",
            f"{elapsed / sign_time:6.1f}x",
            "< 5 s",
        )
    )
    rows.append(
        (
            "  deliveries by state / POSTs received",
            f"{states}",
            f"received {received}, once per host: {exactly_once}",
            f"{steps} steps",
            "",
        )
    )
