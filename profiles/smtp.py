"""Mail transports: an SMTP server (``smtp://``, ``smtp+starttls://``, ``smtps://``) or, in the
embedded mode, a folder of ``.eml`` files.

A transport opens one connection per batch (:meth:`connect`) and sends messages through it one
by one, so a thousand queued messages cost one TCP/TLS handshake and one AUTH, not a thousand.

Errors are sorted by what the sender should do (:mod:`profiles.mail` decides the rest):
- :class:`RecipientRefused` with ``permanent`` True: a 5xx answer about this message (unknown
  mailbox, rejected content) — the message fails, others go on;
- :class:`RecipientRefused` with ``permanent`` False: a 4xx about this message (greylisting,
  mailbox full) — retried later, others go on;
- :class:`ServerUnavailable`: nothing can be sent now (connection refused, timeout, TLS or AUTH
  failure, the server hung up, the sender address refused) — the batch stops and is retried.
  Configuration mistakes land here too: the queue waits for the operator instead of losing mail.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0  # seconds per SMTP command (and for the connection)
DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
SERVICE_CLOSING = 421  # RFC 5321 4.2.3: the server closes the connection after this answer


class MailTransportError(Exception):
    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason[:1000]
        self.code = code


class RecipientRefused(MailTransportError):
    """The server refused this one message (its recipient or its content)."""

    @property
    def permanent(self) -> bool:
        return self.code is not None and 500 <= self.code < 600


class ServerUnavailable(MailTransportError):
    """Nothing can be sent through this transport right now."""


@dataclass(frozen=True)
class SmtpConfig:
    scheme: str  # smtp | smtp+starttls | smtps
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)

    def describe(self) -> str:
        """For logs and the admin page: never the password."""
        user = f"{self.username}@" if self.username else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpConfig:
    """``smtp://[user:pass@]host[:port]`` (plain, for a local relay), ``smtp+starttls://…``
    (port 587 by default), ``smtps://…`` (implicit TLS, port 465). User and password are
    URL-encoded (``%40`` for ``@``). Raises ValueError with a readable message."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(
            f"SMTP URL scheme {parts.scheme!r}: use smtp://, smtp+starttls:// or smtps://"
        )
    if not parts.hostname:
        raise ValueError("SMTP URL has no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("SMTP URL takes no path or query: scheme://user:password@host:port")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise ValueError(f"SMTP URL port: {exc}") from exc
    return SmtpConfig(
        scheme=scheme,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


class Connection(Protocol):
    def send(self, message: bytes, envelope_from: str, recipient: str, ref: str) -> str:
        """Send one message (bytes from ``profiles.mail.build_message``); returns where it went
        (a file name, or the server's name).
        Raises :class:`RecipientRefused` or :class:`ServerUnavailable`."""

    def __enter__(self) -> Connection: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Transport(Protocol):
    def connect(self) -> Connection:
        """Open a connection (raises :class:`ServerUnavailable`); use it as a context manager."""

    def describe(self) -> str: ...


# -- SMTP ---------------------------------------------------------------------------------------


class SmtpTransport:
    """Sends through an SMTP server with certificate verification on every TLS connection."""

    def __init__(
        self,
        config: SmtpConfig,
        *,
        local_hostname: str,
        ca_bundle: str = "",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.config = config
        # Our EHLO name. Passed explicitly: smtplib's default is socket.getfqdn(), a DNS
        # lookup that can take seconds on a badly configured host.
        self.local_hostname = local_hostname
        self.ca_bundle = ca_bundle
        self.timeout = timeout
        if config.username and config.scheme == "smtp" and not _is_loopback(config.host):
            log.warning(
                "SMTP credentials are sent unencrypted to %s: use smtp+starttls:// or smtps://",
                config.host,
            )

    def describe(self) -> str:
        return self.config.describe()

    def tls_context(self) -> ssl.SSLContext:
        # Verifies the chain and the host name (check_hostname is on in the default context).
        return ssl.create_default_context(cafile=self.ca_bundle or None)

    def connect(self) -> SmtpConnection:
        cfg = self.config
        smtp: smtplib.SMTP | None = None
        try:
            if cfg.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(
                    cfg.host,
                    cfg.port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout,
                    context=self.tls_context(),
                )
            else:
                smtp = smtplib.SMTP(
                    cfg.host, cfg.port, local_hostname=self.local_hostname, timeout=self.timeout
                )
            smtp.ehlo()
            if cfg.scheme == "smtp+starttls":
                smtp.starttls(context=self.tls_context())
                smtp.ehlo()
            if cfg.username:
                _login(smtp, cfg.username, cfg.password)
        except (smtplib.SMTPException, OSError) as exc:  # ssl.SSLError is an OSError
            if smtp is not None:
                _close(smtp)
            raise ServerUnavailable(_describe_error(exc), getattr(exc, "smtp_code", None)) from exc
        return SmtpConnection(smtp, cfg.host)


class SmtpConnection:
    def __init__(self, smtp: smtplib.SMTP, host: str) -> None:
        self.smtp = smtp
        self.host = host

    def __enter__(self) -> SmtpConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        _close(self.smtp)

    def send(self, message: bytes, envelope_from: str, recipient: str, ref: str) -> str:
        # RFC 6531: an address that is not ASCII needs the server's SMTPUTF8.
        options = [] if (envelope_from + recipient).isascii() else ["SMTPUTF8"]
        try:
            self.smtp.sendmail(envelope_from, [recipient], message, mail_options=options)
        except smtplib.SMTPNotSupportedError as exc:  # SMTPUTF8 not offered by the server
            raise RecipientRefused(f"553 {exc}", 553) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (None, b""))
            if code == SERVICE_CLOSING:  # smtplib has closed the connection
                raise ServerUnavailable(_answer(code, text), code) from exc
            raise RecipientRefused(_answer(code, text), code) from exc
        except smtplib.SMTPSenderRefused as exc:
            # Our own address refused: a setting to fix, not this recipient's fault.
            answer = _answer(exc.smtp_code, exc.smtp_error)
            raise ServerUnavailable(f"sender refused: {answer}", exc.smtp_code) from exc
        except smtplib.SMTPDataError as exc:
            answer = _answer(exc.smtp_code, exc.smtp_error)
            if exc.smtp_code == SERVICE_CLOSING:
                raise ServerUnavailable(answer, exc.smtp_code) from exc
            raise RecipientRefused(answer, exc.smtp_code) from exc
        except smtplib.SMTPResponseException as exc:  # 421 and other answers: server-wide
            raise ServerUnavailable(_answer(exc.smtp_code, exc.smtp_error), exc.smtp_code) from exc
        except (smtplib.SMTPException, OSError) as exc:  # hung up, timeout, reset
            raise ServerUnavailable(_describe_error(exc)) from exc
        return self.host


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """AUTH PLAIN when offered (it always is over TLS in practice), else smtplib's choice.

    smtplib's ``login`` tries every offered mechanism in turn after a refusal: one wrong
    password costs several failed attempts (and lockouts on some servers), and its AUTH LOGIN
    with an initial response hangs on servers that do not expect one (aiosmtpd).
    """
    if "PLAIN" in smtp.esmtp_features.get("auth", "").upper().split():
        smtp.user, smtp.password = username, password
        smtp.auth("PLAIN", smtp.auth_plain)
        return
    smtp.login(username, password)


def _answer(code: int | None, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _answer(exc.smtp_code, exc.smtp_error)
    return f"{type(exc).__name__}: {exc}"


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- folder (embedded mode) ---------------------------------------------------------------------


class FolderTransport:
    """Writes each message as ``<folder>/<UTC time>-<ref>.eml`` (readable by any mail client)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def describe(self) -> str:
        return str(self.folder)

    def connect(self) -> FolderConnection:
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ServerUnavailable(_describe_error(exc)) from exc
        return FolderConnection(self.folder)


class FolderConnection:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __enter__(self) -> FolderConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def send(self, message: bytes, envelope_from: str, recipient: str, ref: str) -> str:
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{ref}.eml"
        tmp = self.folder / f".{name}.tmp"
        try:
            # Private: messages carry sign-in links (invitations, password reset).
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(message)
            os.replace(tmp, self.folder / name)  # readers never see half a file
        except OSError as exc:
            raise ServerUnavailable(_describe_error(exc)) from exc
        return name
