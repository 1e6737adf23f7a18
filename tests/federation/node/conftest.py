"""Real nodes on loopback ports exchanging real signed HTTP; workers stepped by the test with
``Worker(state).run_once()`` (the production code path)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.serving import make_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    app: Any
    port: int

    @property
    def state(self) -> Any:
        return self.app.extensions["coopfed"]

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base(self) -> str:
        return f"http://{self.domain}"

    def session(self) -> Any:
        return self.state.session()

    def step(self) -> int:
        from node.worker import Worker

        return Worker(self.state).run_once()


@pytest.fixture
def serve() -> Iterator[Callable[[Any, int], None]]:
    servers: list[tuple[Any, threading.Thread]] = []

    def start(app: Any, port: int) -> None:
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def nodes(make_node: Any, serve: Any) -> Callable[[int], list[Node]]:
    def build(count: int) -> list[Node]:
        out = []
        for i in range(count):
            port = free_port()
            app = make_node(domain=f"127.0.0.1:{port}", name=f"Coop {'ABC'[i]}", country="SE")
            serve(app, port)
            out.append(Node(app, port))
        return out

    return build


def pump(*nodes: Node, rounds: int = 12) -> None:
    """Step every node's worker until a whole round handles nothing."""
    for _ in range(rounds):
        if sum(n.step() for n in nodes) == 0:
            return
    raise AssertionError(f"workers still busy after {rounds} rounds")
