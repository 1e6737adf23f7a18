"""SSRF guard against DNS rebinding: the name check saw a public address, the connect reached a
loopback one. The transport must refuse after connecting, before sending a byte."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from federation.errors import Forbidden
from federation.transport import Transport


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A TCP listener on loopback recording whatever any client sends."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                if data:
                    received.append(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join(5)
    server.close()


def test_rebinding_to_loopback_is_refused_before_sending(listener) -> None:
    port, received = listener
    asked: list[str] = []

    def first_answer_public(host: str, port: int, **_: object) -> list[tuple]:
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    transport = Transport("coopfed-test/0", dev_mode=False, resolver=first_answer_public)
    try:
        with pytest.raises(Forbidden, match="non-public address 127.0.0.1"):
            transport.get_json(f"https://127.0.0.1:{port}/users/x")
        with pytest.raises(Forbidden, match="non-public address 127.0.0.1"):
            transport.post(f"https://127.0.0.1:{port}/inbox", b"{}", "k", _private_pem())
    finally:
        transport.close()
    assert asked == ["127.0.0.1", "127.0.0.1"]  # the name check ran and was fooled
    assert received == []  # not one byte reached the internal service


def _private_pem() -> str:
    from federation.keys import generate_rsa_keypair

    return generate_rsa_keypair()[1]
