"""Mail throughput: queueing N invitation-like messages and sending them through a local SMTP
sink (aiosmtpd), against a raw-smtplib baseline.

    uv run python bench/bench_mail.py [--count 10000] [--database-url URL]

Issue 12's bars: inviting 10,000 members queues in < 10 s; sending them through a local SMTP
sink takes < 2 minutes. Measured here:

- queue: for each recipient a single-use token (as an invitation link will carry), the
  ``notice`` template rendered in one of the seven UI languages (text + HTML), then one bulk
  INSERT transaction (``NodeMail.send_many``);
- send: the worker's sender (``MailSender.run_once``) until the queue is empty — claim a batch,
  one SMTP connection per batch, record the outcomes in one transaction per batch;
- baseline: raw smtplib sending the same messages over ONE connection (no database): the floor
  the queue adds its bookkeeping to; and, on a sample, one connection per message (what a naive
  sender would do).

The sink runs in this process (a thread), so it shares the CPU and the GIL with the sender: the
figures are a lower bound for a real relay on another process. Recipients are bare addresses
(transactional kind): creating 10,000 members with their keys would dominate the run.
"""

from __future__ import annotations

import argparse
import smtplib
import socket
import sys
import tempfile
import time
from pathlib import Path

from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_node import make_app  # noqa: E402

from profiles import mail as queue  # noqa: E402
from profiles.languages import UI_LANGUAGES  # noqa: E402
from profiles.mail import MailMessage, build_message, from_header  # noqa: E402


class CountingSink:
    def __init__(self) -> None:
        self.count = 0
        self.bytes = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.count += 1
        self.bytes += len(envelope.content)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_node(folder: Path, port: int, database_url: str):
    """A node sending its mail to the SMTP sink on ``port`` (no vocabulary needed)."""
    return make_app(folder, database_url, curated=False, smtp_url=f"smtp://127.0.0.1:{port}")


def bench_queue(state, count: int) -> tuple[float, float]:
    service = state.mail_service()
    cpu = time.process_time()
    started = time.perf_counter()
    with state.session() as session:

        def compose(i: int):
            token = service.tokens.issue("invitation", {"m": i}, single_use=True)
            return service.compose(
                session,
                f"member{i}@example.org",
                "notice",
                UI_LANGUAGES[i % len(UI_LANGUAGES)],
                kind="invitation",
                title="Welcome to Smart Sverige on coopfed",
                paragraphs=["Your coop invites you to set up your profile."],
                action_url=f"{state.ctx.base_url}/invitation/{token}",
                action_label="Accept the invitation",
            )

        queued = service.send_many(session, (compose(i) for i in range(count)))
        session.commit()
    assert queued == count
    return time.perf_counter() - started, time.process_time() - cpu


def bench_send(state, sink: CountingSink, count: int) -> tuple[float, float, int]:
    sender = state.mail_service().sender
    cpu = time.process_time()
    started = time.perf_counter()
    batches = 0
    while sender.run_once():
        batches += 1
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    with state.session() as session:
        counts = queue.counts(session)
    assert counts["sent"] == count and sink.count == count, (counts, sink.count)
    return elapsed, cpu, batches


def bench_raw(state, port: int, count: int, sample: int) -> tuple[float, float, float]:
    """The same messages through raw smtplib: one connection for all, and one per message."""
    service = state.mail_service()
    with state.session() as session:
        rows = session.query(MailMessage).order_by(MailMessage.id).limit(count).all()
        field = from_header(service.from_address)
        messages = [(r.recipient, build_message(r, field)) for r in rows]
    cpu = time.process_time()
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, local_hostname="smart.test", timeout=30) as smtp:
        for recipient, message in messages:
            smtp.sendmail(service.envelope_from, [recipient], message)
    one_connection, one_cpu = time.perf_counter() - started, time.process_time() - cpu
    started = time.perf_counter()
    for recipient, message in messages[:sample]:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="smart.test", timeout=30) as smtp:
            smtp.sendmail(service.envelope_from, [recipient], message)
    per_message = (time.perf_counter() - started) / sample
    return one_connection, one_cpu, per_message


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--quick", action="store_true", help="2,000 messages")
    ap.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    args = ap.parse_args()
    count = 2_000 if args.quick else args.count
    sink = CountingSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app = make_node(Path(tmp), port, args.database_url)
            state = app.extensions["coopfed"]
            queue_s, queue_cpu = bench_queue(state, count)
            send_s, send_cpu, batches = bench_send(state, sink, count)
            size = sink.bytes / max(sink.count, 1)
            raw_s, raw_cpu, naive_per = bench_raw(state, port, count, sample=min(500, count))
            state.engine.dispose()
    finally:
        controller.stop()
    db = state.engine.dialect.name
    print(f"mail bench: {count} messages, {db}, avg {size / 1024:.1f} KiB (text + HTML)")
    # CPU: this process, both sides of the SMTP conversation (the sink is a thread in it).
    print(f"{'step':<44}{'seconds':>9}{'CPU s':>8}{'msg/s':>8}  bar")
    rows = [
        ("queue (token + render + bulk insert)", queue_s, queue_cpu, "< 10 s"),
        (f"send via the queue ({batches} batches)", send_s, send_cpu, "< 120 s"),
        ("baseline: raw smtplib, one connection", raw_s, raw_cpu, ""),
        ("baseline: raw smtplib, connection per msg", naive_per * count, None, "extrapolated"),
    ]
    for name, seconds, cpu, bar in rows:
        cpu_s = f"{cpu:>8.2f}" if cpu is not None else f"{'':>8}"
        print(f"{name:<44}{seconds:>9.2f}{cpu_s}{count / seconds:>8.0f}  {bar}")
    ok = queue_s < 10 and send_s < 120
    print("bars met" if ok else "BARS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
