"""A fan-out keeps its connections: the delivery worker POSTs up to 32 activities at once, and
the transport keeps as many connections per host open, so the next batch to a busy host reuses
them instead of opening (and, over TLS, handshaking) new ones (seen in bench/soak.py as
"Connection pool is full, discarding connection")."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from federation.transport import POOL_PER_HOST, Transport


def test_a_second_batch_to_one_host_opens_no_new_connection() -> None:
    opened: list[int] = []
    lock = threading.Lock()
    gate = threading.Barrier(POOL_PER_HOST, timeout=20)

    class Inbox(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def setup(self) -> None:
            super().setup()
            with lock:
                opened.append(1)

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            gate.wait()  # every POST of a batch in flight at once
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Inbox)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    transport = Transport("coopfed-test/0", dev_mode=True)
    url = f"http://127.0.0.1:{server.server_port}/inbox"

    def batch() -> list[int]:
        with ThreadPoolExecutor(POOL_PER_HOST) as pool:
            jobs = [
                pool.submit(transport.post, url, b"{}", "https://coop.test/actor#main-key", pem)
                for _ in range(POOL_PER_HOST)
            ]
            return [job.result()[0] for job in jobs]

    try:
        assert batch() == [202] * POOL_PER_HOST
        assert len(opened) == POOL_PER_HOST  # one connection per POST in flight
        assert batch() == [202] * POOL_PER_HOST
        assert len(opened) == POOL_PER_HOST  # all reused
    finally:
        transport.close()
        server.shutdown()
        server.server_close()
