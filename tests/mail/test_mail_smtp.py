"""The mail queue against a real SMTP server (aiosmtpd): plain, STARTTLS + AUTH, implicit TLS,
a server that is down, 4xx and 5xx answers, one connection per batch, transactional enqueue."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select

from federation.db import utcnow
from profiles.mail import MailMessage


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


def node_with(make_node, smtp_url: str, **kw):
    app = make_node(smtp_url=smtp_url, **kw)
    state = app.extensions["coopfed"]
    return state, state.mail_service()


def queue(state, service, *addresses: str, lang: str = "en") -> list[int]:
    with state.session() as s:
        rows = [service.send(s, a, "test", lang, kind="test") for a in addresses]
        s.commit()
        return [r.id for r in rows]


def rows(state) -> dict[int, MailMessage]:
    with state.session() as s:
        return {m.id: m for m in s.scalars(select(MailMessage))}


def test_plain_smtp_sends_text_and_html_in_one_connection(make_node, smtp_server):
    sink = smtp_server("plain")
    state, service = node_with(make_node, f"smtp://127.0.0.1:{sink.port}", name="Smart Sverige")
    ids = queue(state, service, "lena@example.org", "felix@example.de", "ana@example.es")
    assert sink.accepted == []  # queued only: the worker sends
    assert service.job(state) == 3
    assert sink.ehlo_count == 1  # one connection (one EHLO) for the whole batch
    assert [to for _f, to, _raw in sink.accepted] == [
        ["lena@example.org"],
        ["felix@example.de"],
        ["ana@example.es"],
    ]
    assert all(f == "noreply@smart.test" for f, _to, _raw in sink.accepted)
    first = sink.messages()[0]
    assert first["From"] == "Smart Sverige <noreply@smart.test>"
    assert first["Subject"] == "Test message from Smart Sverige"
    assert first["Auto-Submitted"] == "auto-generated"
    assert first.get_content_type() == "multipart/alternative"
    text = first.get_body(("plain",)).get_content()
    html = first.get_body(("html",)).get_content()
    assert "outgoing email works" in text and "<html" not in text
    assert "outgoing email works" in html and '<html lang="en">' in html
    done = rows(state)
    assert {done[i].state for i in ids} == {"sent"}
    assert first["Message-ID"] == done[ids[0]].message_id
    assert done[ids[0]].stored_as == "127.0.0.1" and done[ids[0]].sent_at is not None
    assert service.job(state) == 0  # nothing left, nothing sent twice
    assert len(sink.accepted) == 3


def test_starttls_with_auth_and_url_encoded_credentials(make_node, smtp_server, tls_cert):
    user, password = "node@smart.test", "p@ss:w/rd%"
    sink = smtp_server("starttls", users={user: password})
    url = f"smtp+starttls://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{sink.port}"
    state, service = node_with(make_node, url, smtp_ca_bundle=str(tls_cert.cert))
    assert password not in service.describe() and "starttls" in service.describe()
    queue(state, service, "lena@example.org")
    assert service.job(state) == 1
    assert len(sink.accepted) == 1 and sink.tls_seen and sink.auth_seen


def test_wrong_password_keeps_the_message_queued(make_node, smtp_server, tls_cert):
    sink = smtp_server("starttls", users={"node": "right"})
    url = f"smtp+starttls://node:wrong@127.0.0.1:{sink.port}"
    state, service = node_with(make_node, url, smtp_ca_bundle=str(tls_cert.cert))
    [mail_id] = queue(state, service, "lena@example.org")
    assert service.job(state) == 0
    row = rows(state)[mail_id]
    assert row.state == "pending" and row.attempts == 1 and row.last_code == 535
    assert sink.accepted == []


def test_implicit_tls_verifies_the_certificate(make_node, smtp_server, tls_cert):
    sink = smtp_server("smtps")
    # Without the CA bundle the self-signed certificate is refused: nothing is sent, nothing lost.
    state, service = node_with(make_node, f"smtps://127.0.0.1:{sink.port}")
    [mail_id] = queue(state, service, "lena@example.org")
    assert service.job(state) == 0
    row = rows(state)[mail_id]
    assert row.state == "pending" and "CERTIFICATE_VERIFY_FAILED" in row.last_error
    assert sink.accepted == []
    # With it, the same server is trusted.
    state2, service2 = node_with(
        make_node,
        f"smtps://127.0.0.1:{sink.port}",
        smtp_ca_bundle=str(tls_cert.cert),
        domain="other.test",
    )
    queue(state2, service2, "lena@example.org")
    assert service2.job(state2) == 1 and len(sink.accepted) == 1


def test_a_server_that_is_down_loses_nothing(make_node, smtp_server, free_tcp_port):
    port = free_tcp_port
    state, service = node_with(make_node, f"smtp://127.0.0.1:{port}")
    ids = queue(state, service, "lena@example.org", "felix@example.de")
    clock = Clock()
    service.sender.clock = clock
    assert service.job(state) == 0
    first = rows(state)
    assert {first[i].state for i in ids} == {"pending"}
    assert all(first[i].attempts == 1 and "Connection" in first[i].last_error for i in ids)
    retry_at = first[ids[0]].next_attempt_at
    assert retry_at > clock.now
    # The sender pauses instead of hammering the server; the queue is untouched meanwhile.
    assert service.job(state) == 0 and rows(state)[ids[0]].attempts == 1
    sink = smtp_server("plain", port=port)
    # Both backoffs (the messages' and the sender's pause) are about 30 s, with jitter.
    paused_until = service.sender.paused_until
    assert timedelta(seconds=20) <= paused_until - clock.now <= timedelta(seconds=40)
    clock.now = max(paused_until, *(m.next_attempt_at for m in first.values()))
    clock.now += timedelta(seconds=1)
    assert service.job(state) == 2
    assert sorted(to[0] for _f, to, _raw in sink.accepted) == [
        "felix@example.de",
        "lena@example.org",
    ]
    assert {m.state for m in rows(state).values()} == {"sent"}


def test_permanent_refusal_fails_once_with_the_reason(make_node, smtp_server):
    sink = smtp_server("plain")
    sink.refuse["nobody@example.org"] = "550 5.1.1 <nobody@example.org>: no such user"
    state, service = node_with(make_node, f"smtp://127.0.0.1:{sink.port}")
    bad, good = queue(state, service, "nobody@example.org", "lena@example.org")
    assert service.job(state) == 2  # the bounce does not stop the batch
    done = rows(state)
    assert done[bad].state == "failed" and done[bad].attempts == 1
    assert done[bad].last_code == 550 and "no such user" in done[bad].last_error
    assert done[good].state == "sent"
    assert service.job(state) == 0 and rows(state)[bad].attempts == 1  # never retried


def test_temporary_refusal_is_retried_with_backoff(make_node, smtp_server):
    sink = smtp_server("plain")
    sink.refuse["lena@example.org"] = "450 4.2.0 greylisted, try again later"
    state, service = node_with(make_node, f"smtp://127.0.0.1:{sink.port}")
    [mail_id] = queue(state, service, "lena@example.org")
    clock = Clock()
    service.sender.clock = clock
    assert service.job(state) == 0
    row = rows(state)[mail_id]
    assert row.state == "pending" and row.last_code == 450
    assert timedelta(seconds=20) <= row.next_attempt_at - clock.now <= timedelta(seconds=40)
    assert service.job(state) == 0 and rows(state)[mail_id].attempts == 1  # not due yet
    del sink.refuse["lena@example.org"]
    clock.now = row.next_attempt_at + timedelta(seconds=1)
    assert service.job(state) == 1 and rows(state)[mail_id].state == "sent"


def test_gives_up_after_the_retry_window(make_node, smtp_server):
    sink = smtp_server("plain")
    sink.refuse["lena@example.org"] = "451 4.3.0 local error"
    state, service = node_with(make_node, f"smtp://127.0.0.1:{sink.port}")
    [mail_id] = queue(state, service, "lena@example.org")
    clock = Clock()
    service.sender.clock = clock
    for _ in range(20):
        service.job(state)
        row = rows(state)[mail_id]
        if row.state != "pending":
            break
        clock.now = row.next_attempt_at + timedelta(seconds=1)
    assert row.state == "dead" and 1 < row.attempts <= 15


def test_nothing_is_sent_for_a_rolled_back_transaction(make_node, smtp_server):
    sink = smtp_server("plain")
    state, service = node_with(make_node, f"smtp://127.0.0.1:{sink.port}")
    with state.session() as s:
        service.send(s, "lena@example.org", "test", kind="test")
        s.flush()
        s.rollback()
    assert service.job(state) == 0 and sink.accepted == [] and rows(state) == {}


def test_a_message_leased_by_a_crashed_worker_is_sent_after_the_lease(make_node, smtp_server):
    sink = smtp_server("plain")
    state, service = node_with(make_node, f"smtp://127.0.0.1:{sink.port}")
    [mail_id] = queue(state, service, "lena@example.org")
    # Another worker claims it and dies before sending.
    from federation import lease

    now = utcnow()
    crashed = lease.claim_due(
        state.session, MailMessage, worker_id="crashed", n=10, now=now, lease=timedelta(minutes=10)
    )
    assert crashed == [mail_id]
    clock = Clock()
    service.sender.clock = clock
    assert service.job(state) == 0 and sink.accepted == []  # still leased: not ours
    clock.now = now + timedelta(minutes=11)
    assert service.job(state) == 1 and len(sink.accepted) == 1
    assert rows(state)[mail_id].state == "sent"


@pytest.mark.parametrize(
    "url",
    ["http://x", "smtp://", "smtp://host/path", "smtp://host:notaport", "smtps://h?x=1"],
)
def test_bad_smtp_urls_stop_the_node_without_showing_the_password(make_node, url):
    with pytest.raises(RuntimeError) as info:
        make_node(smtp_url=url.replace("//", "//u:secret@", 1) if "@" not in url else url)
    assert "secret" not in str(info.value)
