"""The transport outside dev mode against a real TLS server on loopback (no nginx needed):
``allow_private_peers`` opens the SSRF guard and nothing else, ``ca_bundle`` adds a trusted CA
on top of the public ones."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from federation.errors import Forbidden, TransportError
from federation.transport import Transport

from .conftest import Pki

NAME = "peer.coop.test"
ADDRESS = "127.0.0.9"


@pytest.fixture
def https_peer(pki: Pki, fake_dns: dict[str, str]) -> Iterator[str]:
    """An https server for ``NAME`` (certificate from the test CA) serving one AP document."""
    cert, key = pki.issue(NAME)
    fake_dns[NAME] = ADDRESS

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps({"id": f"https://{NAME}/actor", "type": "Service"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/activity+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((ADDRESS, 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://{NAME}:{server.server_port}/actor"
    server.shutdown()
    server.server_close()


def test_private_peer_refused_by_default(https_peer: str, pki: Pki) -> None:
    transport = Transport("test", ca_bundle=str(pki.ca_cert))
    with pytest.raises(Forbidden, match="non-public"):
        transport.get_json(https_peer)


def test_private_peer_with_private_ca(https_peer: str, pki: Pki) -> None:
    transport = Transport("test", allow_private_peers=True, ca_bundle=str(pki.ca_cert))
    final, doc = transport.get_json(https_peer)
    assert final == https_peer and doc["type"] == "Service"
    # Still https only: allowing private peers is not dev mode.
    with pytest.raises(Forbidden, match="non-https"):
        transport.get_json(https_peer.replace("https://", "http://"))


def test_private_ca_not_trusted_without_the_setting(https_peer: str) -> None:
    transport = Transport("test", allow_private_peers=True)
    with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED|certificate verify"):
        transport.get_json(https_peer)


def test_settings_refuse_a_missing_ca_bundle(tmp_path: Any) -> None:
    from pydantic import ValidationError

    from node.settings import Settings

    with pytest.raises(ValidationError, match="no such CA bundle"):
        Settings(instance_path=tmp_path, ca_bundle=str(tmp_path / "missing.pem"))
    assert Settings(instance_path=tmp_path).allow_private_peers is False
