"""Production-mode harness: coopfed nodes NOT in dev mode (https IRIs without ports) behind
Debian's nginx terminating TLS on 127.x.y.z:443 (a random loopback block), with a CA made
by the test.

The outside world is stood in for, nothing of ours: DNS (``fake_dns`` maps the test domains to
their loopback addresses by patching :func:`socket.getaddrinfo` for this process — the nodes
run in it, in werkzeug threads) and a public CA (the nodes trust the test's CA through the
``ca_bundle`` setting, and reach loopback peers through ``allow_private_peers``).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import need


@dataclass
class Pki:
    """A CA and a way to issue server certificates for names, all as PEM files."""

    folder: Path
    ca_cert: Path
    _ca_key: Any
    _ca: Any

    def issue(self, name: str) -> tuple[Path, Path]:
        """(certificate, key) files for the DNS name ``name``, signed by the CA."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self._ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_key.public_key()),
                critical=False,
            )
            .sign(self._ca_key, hashes.SHA256())
        )
        cert_file = self.folder / f"{name}.crt"
        key_file = self.folder / f"{name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_file, key_file


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path / "pki"
    folder.mkdir()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coopfed test CA")])
    now = datetime.now(UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    ca_cert = folder / "ca.crt"
    ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return Pki(folder, ca_cert, key, ca)


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``{name: loopback address}``: those names resolve there, every other name as before.
    Patches the process-wide resolver, which both the SSRF check and urllib3's connect use."""
    table: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and name.lower().rstrip(".") in table:
            address = table[name.lower().rstrip(".")]
            return [
                (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(address: str, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"nginx exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"nginx is not listening on {address}:{port}:\n{log.read_text()[-3000:]}")


NGINX_SERVER = """
    server {{
        listen {address}:443 ssl;
        server_name {name};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-For $remote_addr;
        }}
    }}
"""


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Callable[[list[tuple[str, str, Path, Path, int]]], None]]:
    """nginx(sites): one nginx terminating TLS for each ``(name, address, cert, key,
    upstream port)``, listening on ``address:443``. Needs nginx and root (port 443)."""
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    need(binary is not None, "nginx is needed for the TLS production-mode test")
    need(os.geteuid() == 0, "binding 127.x.y.z:443 for the TLS test needs root")
    procs: list[subprocess.Popen[bytes]] = []

    def start(sites: list[tuple[str, str, Path, Path, int]]) -> None:
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        log = prefix / "error.log"
        servers = "".join(
            NGINX_SERVER.format(name=n, address=a, cert=c, key=k, upstream=u)
            for n, a, c, k, u in sites
        )
        conf = prefix / "nginx.conf"
        conf.write_text(
            f"""
user root;
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {log} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 8m;
{servers}
}}
"""
        )
        assert binary is not None
        with open(log, "ab") as stderr:  # nginx keeps its own copy of the descriptor
            proc = subprocess.Popen(
                [binary, "-p", str(prefix), "-c", str(conf)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        procs.append(proc)
        for _name, address, _cert, _key, _upstream in sites:
            _wait_listening(address, 443, proc, log)

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class TlsNode:
    app: Any
    domain: str
    address: str

    @property
    def state(self) -> Any:
        return self.app.extensions["coopfed"]

    @property
    def base(self) -> str:
        return f"https://{self.domain}"

    def step(self) -> int:
        from node.worker import Worker

        return int(Worker(self.state).run_once())


def pump(*nodes: TlsNode, rounds: int = 15) -> None:
    """Step every node's worker until a whole round handles nothing."""
    for _ in range(rounds):
        if sum(n.step() for n in nodes) == 0:
            return
    raise AssertionError(f"workers still busy after {rounds} rounds")


@pytest.fixture
def tls_nodes(
    make_node: Any, pki: Pki, fake_dns: dict[str, str], nginx: Any
) -> Iterator[Callable[[int], list[TlsNode]]]:
    """tls_nodes(n) -> n nodes a.coop.test, b.coop.test… behind nginx on port 443 of
    consecutive loopback addresses (127.R.R.2, .3…: a random block, so that two test runs on
    one machine do not collide on port 443)."""
    servers: list[Any] = []
    first = ipaddress.ip_address(f"127.{secrets.randbelow(254) + 1}.{secrets.randbelow(256)}.2")

    def build(count: int) -> list[TlsNode]:
        out: list[TlsNode] = []
        sites = []
        for i in range(count):
            letter = "abcdef"[i]
            domain = f"{letter}.coop.test"
            address = str(first + i)
            fake_dns[domain] = address
            cert, key = pki.issue(domain)
            port = free_port()
            app = make_node(
                domain=domain,
                name=f"Coop {letter.upper()}",
                country="SE",
                dev_mode=False,
                allow_private_peers=True,
                ca_bundle=str(pki.ca_cert),
            )
            server = make_server("127.0.0.1", port, app, threaded=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
            sites.append((domain, address, cert, key, port))
            out.append(TlsNode(app, domain, address))
        nginx(sites)
        return out

    yield build
    for server in servers:
        server.shutdown()
        server.server_close()
