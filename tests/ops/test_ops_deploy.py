"""The production deploy of deploy/README.md, end to end on loopback: a node on PostgreSQL made
with ``coopfed init``, gunicorn with deploy/gunicorn.conf.py (2 workers, preloaded), 2
``coopfed worker`` processes, nginx with deploy/nginx.conf terminating TLS with certificates of a
local CA. A partner coop (in this process, behind the same nginx) receives what it publishes.

The smoke check goes through https only: ready, metrics from loopback, an operator's partnership
request (``coopfed partner request`` as a command), a member signs in and publishes a call with
the web form, the workers deliver it to the partner.

Only the outside world is stood in for: DNS (the test's names map to loopback addresses, in this
process and, through a ``sitecustomize`` shim on PYTHONPATH, in the node's processes) and a
public CA (``ca_bundle`` setting). Needs PostgreSQL, nginx and root (port 443).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from werkzeug.serving import make_server

from node.cli.partners import partner
from node.worker import Worker
from profiles.models import Call, Partnership
from tests.conftest import PG_URL, REPO, need

DEPLOY_PG = PG_URL or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
VENV_BIN = Path(sys.executable).parent
PASSWORD = "a long deploy password"
SKILL = "http://data.europa.eu/esco/skill/91fc256e-00ec-4367-b3b4-dcd564ed3fd2"

DNS_SHIM = """
import os, socket
_table = dict(p.split("=", 1) for p in os.environ.get("COOPFED_TEST_HOSTS", "").split(",") if p)
_real = socket.getaddrinfo
def _getaddrinfo(host, port, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if isinstance(name, str) and name.lower().rstrip(".") in _table:
        address = _table[name.lower().rstrip(".")]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))]
    return _real(host, port, *args, **kwargs)
socket.getaddrinfo = _getaddrinfo
"""


def _issue(folder: Path, ca: Any, ca_key: Any, name: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = folder / f"{name}.crt", folder / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def make_ca(folder: Path) -> tuple[Path, Callable[[str], tuple[Path, Path]]]:
    """A local CA: (its certificate file, issue(name) -> (cert file, key file))."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coopfed deploy test CA")])
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
        .sign(key, hashes.SHA256())
    )
    ca_file = folder / "ca.crt"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return ca_file, lambda host: _issue(folder, ca, key, host)


def nginx_version() -> tuple[int, ...]:
    out = subprocess.run([NGINX, "-v"], capture_output=True, text=True, check=True).stderr
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out)
    assert found, out
    return tuple(int(x) for x in found.groups())


def site_from_guide(domain: str, address: str, cert: Path, key: Path, upstream: int) -> str:
    """deploy/nginx.conf with this machine's names, addresses and files — the substitutions the
    guide tells an operator to make (and, on nginx older than 1.25.1, its `http2` variant)."""
    conf = (REPO / "deploy" / "nginx.conf").read_text()
    conf = conf.replace("smart.se", domain)
    conf = conf.replace(f"/etc/letsencrypt/live/{domain}/fullchain.pem", str(cert))
    conf = conf.replace(f"/etc/letsencrypt/live/{domain}/privkey.pem", str(key))
    conf = conf.replace("/srv/coopfed/app/", f"{REPO}/")
    conf = conf.replace("127.0.0.1:8000", f"127.0.0.1:{upstream}")
    conf = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", conf)  # loopback test: no IPv6
    conf = conf.replace("listen 443 ssl;", f"listen {address}:443 ssl;")
    conf = conf.replace("listen 80;", f"listen {address}:80;")
    if nginx_version() < (1, 25, 1):
        conf = conf.replace("http2 on;", "").replace(
            f"listen {address}:443 ssl;", f"listen {address}:443 ssl http2;"
        )
    return conf


PEER_SITE = """
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Processes:
    """Subprocesses of the test, each logging to a file; all stopped at the end."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env  # the node's environment, as its systemd units set it
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with (self.folder / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(args, cwd=REPO, env=self.env, stdout=log, stderr=log)
        self.procs.append((name, proc))
        return proc

    def logs(self) -> str:
        return "\n".join(
            f"--- {name}\n{(self.folder / f'{name}.log').read_text(errors='replace')[-2500:]}"
            for name, _ in self.procs
        )

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _pg_reachable(url: str) -> bool:
    try:
        engine = create_engine(url)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except OperationalError:
        return False


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for the deployed node (dropped afterwards)."""
    need(_pg_reachable(DEPLOY_PG), f"PostgreSQL needed for the deploy test ({DEPLOY_PG})")
    name = f"t_deploy_{secrets.token_hex(5)}"
    admin = create_engine(DEPLOY_PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(DEPLOY_PG).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def wait_for(check: Callable[[], bool], what: str, procs: Processes, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{procs.logs()}")


@pytest.mark.timeout(600)  # processes start, build their index, federate: minutes on a busy CI
def test_deploy_guide_end_to_end(tmp_path, pg_database, make_node, monkeypatch) -> None:
    need(Path(NGINX).exists(), "nginx is needed for the deploy test")
    need(os.geteuid() == 0, "binding 127.x.y.z:443 for the deploy test needs root")
    block = f"127.{secrets.randbelow(254) + 1}.{secrets.randbelow(256)}"
    hosts = {"a.coop.test": f"{block}.2", "p.coop.test": f"{block}.3"}
    real_getaddrinfo = socket.getaddrinfo

    def fake_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and name in hosts:
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (hosts[name], int(port)))]  # fmt: skip  # noqa: E501
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    ca_file, issue = make_ca(tmp_path)
    shim = tmp_path / "dns-shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(DNS_SHIM)

    # The partner coop, in this process (a werkzeug thread behind the same nginx).
    peer_port = free_port()
    peer = make_node(
        domain="p.coop.test", name="Partner coop", country="BE", dev_mode=False,
        allow_private_peers=True, ca_bundle=str(ca_file),
    )  # fmt: skip
    server = make_server("127.0.0.1", peer_port, peer, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    # The guide's steps for the node a.coop.test.
    instance = tmp_path / "instance"
    env = {
        **os.environ,
        "PYTHONPATH": str(shim),
        "COOPFED_TEST_HOSTS": ",".join(f"{k}={v}" for k, v in hosts.items()),
        "COOPFED_INSTANCE_PATH": str(instance),
        "COOPFED_WORKER_IN_PROCESS": "false",
        "COOPFED_LOG_JSON": "true",
        "COOPFED_CA_BUNDLE": str(ca_file),  # own CA: the guide's `ca_bundle`
        "COOPFED_ALLOW_PRIVATE_PEERS": "true",  # the peers are on loopback here
        "COOPFED_WORKER_IDLE_SECONDS": "0.2",
        "RUNTIME_DIRECTORY": str(tmp_path / "run"),
    }
    coopfed = str(VENV_BIN / "coopfed")
    init = subprocess.run(
        [coopfed, "init", "--domain", "a.coop.test", "--name", "Coop A", "--country", "SE",
         "--database-url", pg_database, "--admin", "anna", "--admin-email", "anna@a.coop.test",
         "--admin-password", PASSWORD],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert init.returncode == 0, init.stdout + init.stderr
    procs = Processes(tmp_path, env)
    web_port = free_port()
    try:
        procs.start(
            "gunicorn",
            [str(VENV_BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py",
             "--bind", f"127.0.0.1:{web_port}", "node.wsgi:create()"],
        )  # fmt: skip
        for n in (1, 2):
            procs.start(f"worker{n}", [coopfed, "worker"])
        cert_a, key_a = issue("a.coop.test")
        cert_p, key_p = issue("p.coop.test")
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        sites = site_from_guide("a.coop.test", hosts["a.coop.test"], cert_a, key_a, web_port)
        sites += PEER_SITE.format(
            address=hosts["p.coop.test"], name="p.coop.test", cert=cert_p, key=key_p,
            upstream=peer_port,
        )  # fmt: skip
        (prefix / "nginx.conf").write_text(
            f"user root;\ndaemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\n"
            f"error_log {prefix}/error.log warn;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n"
            f"  proxy_temp_path {prefix}/proxy;\n  fastcgi_temp_path {prefix}/fastcgi;\n"
            f"  uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n{sites}\n}}\n"
        )
        check = subprocess.run(
            [NGINX, "-t", "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert check.returncode == 0, check.stderr
        procs.start("nginx", [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf")])
        smoke(peer, procs, ca_file, pg_database)
    finally:
        procs.stop()
        server.shutdown()
        server.server_close()


def _get(url: str, ca: Path, **kw: Any) -> requests.Response | None:
    try:
        return requests.get(url, verify=str(ca), timeout=10, **kw)
    except requests.ConnectionError:
        return None


def smoke(peer: Any, procs: Processes, ca: Path, database_url: str) -> None:
    base = "https://a.coop.test"
    ready: dict[str, Any] = {}

    def is_ready() -> bool:
        r = _get(f"{base}/readyz", ca)
        ready["r"] = r
        return r is not None and r.status_code == 200

    wait_for(is_ready, "https://a.coop.test/readyz", procs, timeout=120)
    # nginx gives every request its $request_id; the node logs it and echoes it.
    assert re.fullmatch(r"[0-9a-f]{32}", ready["r"].headers["X-Request-Id"])
    assert ready["r"].headers.get("Strict-Transport-Security")
    metrics = requests.get(f"{base}/metrics", verify=str(ca), timeout=10)
    assert metrics.status_code == 200 and "coopfed_delivery_queue_depth" in metrics.text

    # The operator asks for a partnership with the command the guide names.
    request = subprocess.run(
        [str(VENV_BIN / "coopfed"), "partner", "request", "p.coop.test"],
        cwd=REPO, env=procs.env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert request.returncode == 0, request.stdout + request.stderr + procs.logs()
    state = peer.extensions["coopfed"]
    node_db = create_engine(database_url)

    def partnership_active() -> bool:
        Worker(state).run_once()  # the partner's worker: receives, then answers
        # The partner's admin accepts (refused until the request has arrived).
        CliRunner().invoke(partner, ["accept", "a.coop.test"], obj={"state": state})
        with node_db.connect() as conn:
            got = conn.execute(
                select(Partnership.state).where(Partnership.domain == "p.coop.test")
            ).scalar()
        return got == "active"

    try:
        wait_for(partnership_active, "the partnership to be active", procs)

        # A member signs in through https and publishes a call with the web form.
        web = requests.Session()
        web.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would beat verify=
        web.verify = str(ca)
        # As a browser does: Flask-WTF checks the Referer of https form posts (SSL strict).
        web.headers["Referer"] = f"{base}/"
        token = _csrf(web.get(f"{base}/login", timeout=10).text)
        r = web.post(
            f"{base}/login",
            data={"username": "anna", "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
            timeout=10,
        )
        assert r.status_code in (302, 303), r.text[:500]
        token = _csrf(web.get(f"{base}/calls/new", timeout=10).text)
        r = web.post(
            f"{base}/calls/new",
            data={
                "csrf_token": token, "title": "Deployed: sound engineer wanted",
                "description": "Two weeks in Malmö.", "skills_required": SKILL,
                "country": "SE", "city": "Malmö", "languages": "en", "visibility": "partners",
                "action": "save",
            },
            allow_redirects=False,
            timeout=10,
        )  # fmt: skip
        assert r.status_code in (302, 303), r.text[:2000]

        def delivered() -> bool:
            Worker(state).run_once()
            with state.session() as s:
                titles = s.scalars(select(Call.title).where(Call.node == "a.coop.test")).all()
            return "Deployed: sound engineer wanted" in titles

        wait_for(delivered, "the call to reach the partner", procs)
        # Both worker processes ran (each logs its start as JSON) and nothing crashed.
        for name, proc in procs.procs:
            assert proc.poll() is None, f"{name} exited\n{procs.logs()}"
        assert '"logger": "coopfed.worker"' in (procs.folder / "worker1.log").read_text()
    finally:
        node_db.dispose()


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)
