"""Inviting a whole register: N members without a password (as the importer leaves them) get
their invitation through ``coopfed member invite --all-pending``'s code path, a local SMTP sink
(aiosmtpd) receives every message, and one member accepts through the link and signs in.

    uv run python bench/bench_invite.py [--count 10000] [--database-url URL]

Issue 12's bars: inviting 10,000 members queues in < 10 s; sending them through a local SMTP
sink takes < 2 minutes. "Queue" here is the whole command: find the members never invited,
open their invitations (one row each), sign a single-use token per member, render the message
in the member's UI language (text + HTML), bulk INSERT, commit.

The members are inserted directly (Core INSERT, no keys): the importer's own speed is measured
by bench_scale.py; this bench is about the invitations.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_mail import free_port, make_node  # noqa: E402

from federation.db import utcnow  # noqa: E402
from node.onboarding import invite  # noqa: E402
from profiles import invitations  # noqa: E402
from profiles import mail as queue  # noqa: E402
from profiles.languages import UI_LANGUAGES  # noqa: E402
from profiles.models import Member  # noqa: E402


class KeepingSink:
    """Counts every message; keeps the first one's body (the member who accepts)."""

    def __init__(self) -> None:
        self.count = 0
        self.first: bytes | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.count += 1
        if self.first is None:
            self.first = envelope.content
        return "250 OK"


def add_members(state, count: int) -> None:
    now = utcnow()
    ctx = state.ctx
    rows = [
        {
            "ap_id": ctx.member_iri(f"member{i}"),
            "local": True,
            "node": ctx.domain,
            "username": f"member{i}",
            "email": f"member{i}@example.org",
            "name": f"Member {i}",
            "coop_name": ctx.name,
            "ui_language": UI_LANGUAGES[i % len(UI_LANGUAGES)],
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    with state.session() as session:
        for start in range(0, count, 2000):
            session.execute(insert(Member), rows[start : start + 2000])
        session.commit()


def bench_queue(state) -> tuple[float, int]:
    started = time.perf_counter()
    with state.session() as session:
        ids = invitations.pending_ids(session, state.ctx)
        result = invite(state, session, ids)
        session.commit()
    return time.perf_counter() - started, len(result.ready)


def bench_send(state) -> tuple[float, int]:
    sender = state.mail_service().sender
    started = time.perf_counter()
    batches = 0
    while sender.run_once():
        batches += 1
    return time.perf_counter() - started, batches


def accept_one(app, sink: KeepingSink) -> float:
    """The first member received sets a password through the link and is signed in."""
    from email import message_from_bytes, policy

    assert sink.first is not None
    message = message_from_bytes(sink.first, policy=policy.default)
    body = message.get_body(("plain",)).get_content()
    path = urlsplit(re.search(r"https?://\S+/invitation/\S+", body).group(0)).path
    app.config["WTF_CSRF_ENABLED"] = False  # a scripted form post
    client = app.test_client()
    started = time.perf_counter()
    assert client.get(path).status_code == 200
    password = "a long enough password"
    done = client.post(path, data={"password": password, "confirm": password})
    assert done.status_code == 302, done.status_code
    assert client.get("/profile/edit").status_code == 200  # signed in
    return time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    args = ap.parse_args()
    sink = KeepingSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app = make_node(Path(tmp), port, args.database_url)
            state = app.extensions["coopfed"]
            add_members(state, args.count)
            queue_s, queued = bench_queue(state)
            send_s, batches = bench_send(state)
            with state.session() as session:
                counts = queue.counts(session)
            accept_s = accept_one(app, sink)
            db = state.engine.dialect.name
            state.engine.dispose()
    finally:
        controller.stop()
    assert queued == args.count and counts["sent"] == args.count == sink.count, (queued, counts)
    print(f"invite bench: {args.count} members without a password, {db}")
    print(f"{'step':<48}{'seconds':>9}{'msg/s':>8}  bar")
    print(
        f"{'member invite --all-pending (queue, commit)':<48}{queue_s:>9.2f}"
        f"{queued / queue_s:>8.0f}  < 10 s"
    )
    print(
        f"{f'send via the queue ({batches} batches)':<48}{send_s:>9.2f}"
        f"{sink.count / send_s:>8.0f}  < 120 s"
    )
    print(f"{'one member accepts (GET + POST + signed in)':<48}{accept_s:>9.2f}")
    ok = queue_s < 10 and send_s < 120
    print("bars met" if ok else "BARS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
