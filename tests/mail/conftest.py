"""A real SMTP server in the test (aiosmtpd on 127.0.0.1, a free port): plain, STARTTLS,
implicit TLS, AUTH; it records what it accepted and refuses the recipients it is told to."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

# Helpers (mail_helpers.py) live next to the tests, as in tests/matchmaking.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def free_tcp_port() -> int:
    """A port nothing listens on (yet)."""
    return free_port()


@dataclass
class Sink:
    """The aiosmtpd handler: accepts, refuses or defers recipients; keeps accepted messages."""

    refuse: dict[str, str] = field(default_factory=dict)  # address -> "550 5.1.1 …" / "450 …"
    accepted: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    port: int = 0
    controller: Any = None
    ehlo_count: int = 0
    tls_seen: bool = False
    auth_seen: bool = False

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        self.ehlo_count += 1
        session.host_name = hostname  # a handler's EHLO hook must record it (aiosmtpd docs)
        self.tls_seen = self.tls_seen or session.ssl is not None
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.auth_seen = self.auth_seen or session.authenticated
        self.accepted.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(raw, policy=policy.default) for _f, _t, raw in self.accepted]

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@dataclass(frozen=True)
class Cert:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    """A self-signed certificate for 127.0.0.1 (its own CA bundle for the client)."""
    folder = tmp_path_factory.mktemp("smtp-tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Cert(cert_path, key_path)


@pytest.fixture
def smtp_server(tls_cert: Cert) -> Iterator[Any]:
    """Factory: smtp_server(mode="plain"|"starttls"|"smtps", users={"u": "p"}, port=None)."""
    sinks: list[Sink] = []

    def start(
        mode: str = "plain", users: dict[str, str] | None = None, port: int | None = None
    ) -> Sink:
        sink = Sink(port=port or free_port())
        kwargs: dict[str, Any] = {}
        if mode == "starttls":
            kwargs.update(tls_context=tls_cert.server_context(), require_starttls=True)
        elif mode == "smtps":
            kwargs.update(ssl_context=tls_cert.server_context())
        if users is not None:

            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = (
                    isinstance(auth_data, LoginPassword)
                    and users.get(auth_data.login.decode()) == auth_data.password.decode()
                )
                return AuthResult(success=ok, handled=False)  # handled=False: it answers 535

            kwargs.update(authenticator=authenticator, auth_required=True)
        sink.controller = Controller(sink, hostname="127.0.0.1", port=sink.port, **kwargs)
        sink.controller.start()
        sinks.append(sink)
        return sink

    yield start
    for sink in sinks:
        sink.stop()
