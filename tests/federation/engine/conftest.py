"""Fixtures for the federation engine: a database (``throwaway_db``: a SQLite file, or a private
PostgreSQL schema when COOPFED_TEST_DATABASE_URL is set) and a fake fediverse.

The fake fediverse is a requests transport adapter mounted on the Transport's one Session: it
serves canned actors/WebFinger documents for reserved names (*.test), records every request and
every POST, and fails loudly (AssertionError) on anything it was not told to expect. DNS is a
stub: *.test names resolve to a public address, names listed in ``loopback`` to 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session, sessionmaker

import federation.models  # noqa: F401  (registers the tables on Base.metadata)
from federation import signatures, vocab
from federation.actors import RemoteActors
from federation.db import Base, utcnow
from federation.inbox import receive
from federation.keys import generate_rsa_keypair
from federation.policy import DomainPolicy
from federation.transport import Transport
from tests.conftest import PG_URL, ThrowawayDatabase  # noqa: F401  (PG_URL: for PG-only tests)

PUBLIC_IP = "93.184.216.34"
LOCAL = "https://coop.test/actors/coop"
LOCAL_KEY_ID = f"{LOCAL}#main-key"
INBOX_URL = "https://coop.test/inbox"


# -- database ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fedtemplate") / "template.db"
    eng = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(eng)
    eng.dispose()
    return path


def _engine_without_node(url: str, **kwargs: Any) -> Any:
    """The engine's tests use plain SQLAlchemy engines (the federation package knows no node)."""
    eng = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        # Durability is not under test; fsync per commit made the suite 3x slower.
        event.listen(eng, "connect", lambda conn, _rec: conn.execute("PRAGMA synchronous=OFF"))
    return eng


@pytest.fixture
def engine(throwaway_db: Callable[..., ThrowawayDatabase], sqlite_template: Path) -> Any:
    db = throwaway_db("fed", make_engine=_engine_without_node)
    if db.sqlite_path is not None:
        # Copy a schema made once per session (before the first connection opens the file):
        # create_all costs ~0.3 s of fsyncs per test.
        shutil.copyfile(sqlite_template, db.sqlite_path)
    else:
        Base.metadata.create_all(db.engine)
    return db.engine


@pytest.fixture
def session_factory(engine: Any) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


# -- keys and identities ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def keypairs() -> list[tuple[str, str]]:
    """A few RSA key pairs made once (generation is the slow part)."""
    return [generate_rsa_keypair() for _ in range(4)]


@dataclass
class Remote:
    ap_id: str
    key_id: str
    public_pem: str
    private_pem: str
    inbox: str
    shared_inbox: str | None = None

    def sign_post(
        self, url: str, body: bytes, now: datetime | None = None, key_id: str | None = None
    ) -> dict[str, str]:
        return signatures.sign_request(
            "POST",
            url,
            {"Content-Type": vocab.ACTIVITY_JSON},
            body,
            key_id or self.key_id,
            self.private_pem,
            now=now,
        )


def actor_doc(remote: Remote, **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": vocab.context_for("actor"),
        "id": remote.ap_id,
        "type": "Person",
        "preferredUsername": remote.ap_id.rsplit("/", 1)[-1],
        "inbox": remote.inbox,
        "publicKey": {
            "id": remote.key_id,
            "owner": remote.ap_id,
            "publicKeyPem": remote.public_pem,
        },
    }
    if remote.shared_inbox:
        doc["endpoints"] = {"sharedInbox": remote.shared_inbox}
    doc.update(overrides)
    return doc


# -- fake fediverse ---------------------------------------------------------------------------

Reply = tuple[int, dict[str, str], bytes]
Responder = Callable[[requests.PreparedRequest], Reply]


@dataclass
class Recorded:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeFediverse(BaseAdapter):
    """Canned GET routes and scripted inbox answers; records everything."""

    gets: dict[str, Reply | Responder] = field(default_factory=dict)
    inboxes: dict[str, list[Reply | Exception]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        super().__init__()

    # set-up helpers
    def serve_json(self, url: str, doc: dict[str, Any], ctype: str = vocab.ACTIVITY_JSON) -> None:
        self.gets[url] = (200, {"Content-Type": ctype}, json.dumps(doc).encode())

    def serve_actor(self, remote: Remote, **overrides: Any) -> None:
        self.serve_json(remote.ap_id, actor_doc(remote, **overrides))

    def inbox(self, url: str, *replies: Reply | Exception) -> None:
        """Script an inbox: each POST takes the next reply; the last one repeats."""
        self.inboxes[url] = list(replies) or [(202, {}, b"")]

    @property
    def posts(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]

    def posts_to(self, url: str) -> list[Recorded]:
        return [r for r in self.posts if r.url == url]

    # requests adapter API
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        rec = Recorded(str(request.method), str(request.url), dict(request.headers), body)
        with self.lock:
            self.requests.append(rec)
            if rec.method == "GET" and rec.url in self.gets:
                route = self.gets[rec.url]
                reply = route(request) if callable(route) else route
            elif rec.method == "POST" and rec.url in self.inboxes:
                script = self.inboxes[rec.url]
                step = script.pop(0) if len(script) > 1 else script[0]
                if isinstance(step, Exception):
                    raise step
                reply = step
            else:
                self.unexpected.append(f"{rec.method} {rec.url}")
                raise AssertionError(f"fake fediverse: unexpected {rec.method} {rec.url}")
        status, headers, content = reply
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        response.raw = BytesIO(content)
        response.url = rec.url
        response.request = request
        return response

    def close(self) -> None:
        pass


LOOPBACK_NAMES = {"internal.test", "localhost"}


def fake_resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
    """getaddrinfo stub: IP literals as themselves, *.test/*.example public, listed names
    loopback; anything else is an unexpected lookup."""
    try:
        ip = str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        if host in LOOPBACK_NAMES:
            ip = "127.0.0.1"
        elif host.endswith((".test", ".example")):
            ip = PUBLIC_IP
        else:
            raise AssertionError(f"unexpected DNS lookup of {host}") from None
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    return [(family, socket.SOCK_STREAM, 6, "", (ip, port))]


@pytest.fixture
def fedi() -> Iterator[FakeFediverse]:
    fake = FakeFediverse()
    yield fake
    assert not fake.unexpected, f"unexpected outbound requests: {fake.unexpected}"


@pytest.fixture
def transport(fedi: FakeFediverse) -> Iterator[Transport]:
    t = Transport("coopfed-test/0 (+https://coop.test/)", dev_mode=False, resolver=fake_resolver)
    t.session.mount("https://", fedi)
    t.session.mount("http://", fedi)
    yield t
    t.close()


@pytest.fixture
def local_key(keypairs: list[tuple[str, str]]) -> tuple[str, str]:
    """(public_pem, private_pem) of our local actor."""
    return keypairs[0]


@pytest.fixture
def local_actors(local_key: tuple[str, str]) -> Callable[[str], tuple[str, str] | None]:
    keys = {LOCAL: (LOCAL_KEY_ID, local_key[1])}
    return keys.get


@pytest.fixture
def actors(session: Session, transport: Transport, local_key: tuple[str, str]) -> RemoteActors:
    return RemoteActors(session, transport, (LOCAL_KEY_ID, local_key[1]))


@pytest.fixture
def policy(session: Session) -> DomainPolicy:
    return DomainPolicy(session)


@pytest.fixture
def remote_factory(keypairs: list[tuple[str, str]]) -> Callable[..., Remote]:
    def make(
        ap_id: str, key: int = 1, shared_inbox: str | None = None, inbox: str | None = None
    ) -> Remote:
        public_pem, private_pem = keypairs[key]
        return Remote(
            ap_id=ap_id,
            key_id=f"{ap_id}#main-key",
            public_pem=public_pem,
            private_pem=private_pem,
            inbox=inbox or f"{ap_id}/inbox",
            shared_inbox=shared_inbox,
        )

    return make


class Clock:
    """Real time plus a settable offset: rows stamped with real time by ``publish`` are due
    at once, and tests jump ahead with :meth:`advance`."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    @property
    def now(self) -> datetime:
        return utcnow() + self.offset

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.offset += timedelta(**kw)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def post_signed(
    session: Session, actors: RemoteActors, policy: Any, remote: Any, activity: dict[str, Any]
) -> tuple[int, str]:
    """POST ``activity`` to our inbox, HTTP-signed by ``remote``: ``(status, message)``."""
    body = json.dumps(activity).encode()
    return receive(
        session,
        method="POST",
        url=INBOX_URL,
        headers=remote.sign_post(INBOX_URL, body),
        body=body,
        actors=actors,
        policy=policy,
    )
