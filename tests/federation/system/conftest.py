"""System-test helpers: real servers on 127.0.0.1, databases on SQLite or PostgreSQL
(COOPFED_TEST_DATABASE_URL), actors with real keys. Only the outside world is stood in for."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from tests.conftest import ThrowawayDatabase


@pytest.fixture
def make_db(
    throwaway_db: Callable[..., ThrowawayDatabase],
) -> Callable[[str], ThrowawayDatabase]:
    """make_db(name) -> a throwaway database with every table made (dropped after the test)."""
    from node import db as node_db

    def factory(name: str) -> ThrowawayDatabase:
        db = throwaway_db(name)
        node_db.create_all(db.engine)
        return db

    return factory


@pytest.fixture
def serve_wsgi() -> Iterator[Callable[..., tuple[str, BaseWSGIServer]]]:
    """serve_wsgi(app, port=0) -> (base URL, server): werkzeug, threaded, on 127.0.0.1."""
    servers: list[BaseWSGIServer] = []

    def start(app: Any, port: int = 0) -> tuple[str, BaseWSGIServer]:
        server = make_server("127.0.0.1", port, app, threaded=True)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_port}", server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@dataclass
class RemoteActor:
    """An actor on a loopback host that serves only its own actor document."""

    base: str
    actor: str
    key_id: str
    public_pem: str
    private_pem: str


@pytest.fixture
def remote_actor() -> Iterator[RemoteActor]:
    from federation import vocab
    from federation.keys import generate_rsa_keypair, main_key_id

    public_pem, private_pem = generate_rsa_keypair()
    doc: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps(doc).encode()
            self.send_response(200 if self.path == "/actor" else 404)
            self.send_header("Content-Type", vocab.ACTIVITY_JSON)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_port}"
    actor = f"{base}/actor"
    doc.update(
        {
            "@context": [vocab.AS_CONTEXT, "https://w3id.org/security/v1"],
            "id": actor,
            "type": "Group",
            "preferredUsername": "calls",
            "inbox": f"{base}/inbox",
            "publicKey": {"id": main_key_id(actor), "owner": actor, "publicKeyPem": public_pem},
        }
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield RemoteActor(base, actor, main_key_id(actor), public_pem, private_pem)
    server.shutdown()
    server.server_close()
