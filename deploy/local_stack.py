"""The production setup of deploy/README.md on loopback, for the deploy test and the soak.

``LocalStack`` brings up, as the guide says: a node made with ``coopfed init`` on PostgreSQL,
gunicorn with deploy/gunicorn.conf.py (2 web workers), 2 ``coopfed worker`` processes and nginx
with deploy/nginx.conf terminating TLS — the guide's substitutions made for this machine, and
its `http2` variant on nginx older than 1.25.1. Extra nginx sites put other servers (partner
nodes, fake remote hosts) behind the same nginx.

Stand-ins for the outside world only: a local CA (instead of Let's Encrypt; the node trusts it
through ``ca_bundle``) and DNS — names map to loopback addresses through a ``sitecustomize``
shim on the node processes' PYTHONPATH (``COOPFED_TEST_HOSTS``: ``name=address`` pairs, a name
``*.x`` matching every name under ``x``), and through :meth:`LocalStack.patch_dns` in the
calling process. Needs root (port 443), nginx and PostgreSQL.

``LocalPostgres`` is a private PostgreSQL cluster (initdb + pg_ctl of the machine's PostgreSQL
binaries, a temporary data directory, a free loopback port) for runs that restart the database
(the soak's fault): the machine's own server, shared with others, is never touched.
"""

# ruff: noqa: S603  (runs our own commands: nginx, gunicorn, coopfed — argument lists, no shell)
from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
VENV_BIN = Path(sys.executable).parent

DNS_SHIM = """
import os, socket
_table = dict(p.split("=", 1) for p in os.environ.get("COOPFED_TEST_HOSTS", "").split(",") if p)
_real = socket.getaddrinfo
def _lookup(name):
    name = name.lower().rstrip(".")
    if name in _table:
        return _table[name]
    for pattern, address in _table.items():
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return address
    return None
def _getaddrinfo(host, port, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    address = _lookup(name) if isinstance(name, str) else None
    if address is not None:
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))]
    return _real(host, port, *args, **kwargs)
socket.getaddrinfo = _getaddrinfo
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_bindir() -> Path | None:
    """The newest PostgreSQL server binaries (initdb, pg_ctl) on this machine, if any."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    return Path(dirs[-1]) if dirs and Path(dirs[-1], "initdb").exists() else None


class LocalPostgres:
    """A PostgreSQL cluster of our own on 127.0.0.1:``port`` with trust authentication.

    initdb refuses to run as root: as root the cluster belongs to the ``postgres`` system user
    (commands through ``runuser``). ``restart()`` is ``pg_ctl restart -m fast``: every
    connection is cut, as when an operator restarts or upgrades the server.
    """

    def __init__(self, bindir: Path | None = None) -> None:
        found = bindir or postgres_bindir()
        if found is None:
            raise RuntimeError("no PostgreSQL server binaries (initdb) on this machine")
        self.bindir = found
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="coopfed-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        (self.folder / "commands.log").touch()

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        # Output to a file, not a pipe: the server pg_ctl starts inherits it, and a pipe would
        # stay open (and this call wait) for as long as the server runs.
        with (self.folder / "commands.log").open("a+") as out:
            done = subprocess.run(cmd, stdout=out, stderr=out, check=False)
            if done.returncode != 0:
                out.seek(0)
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.read()[-3000:]}")

    def _ctl(self, action: str, *extra: str) -> None:
        self._run("pg_ctl", action, "-D", str(self.data), "-w", "-t", "60", *extra)

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")  # fmt: skip
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        self._ctl("start", "-l", str(self.log), "-o", options)

    def restart(self) -> None:
        """Stop (fast: open transactions are rolled back, connections cut) and start again."""
        self._ctl("restart", "-m", "fast", "-l", str(self.log))

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._ctl("stop", "-m", "fast")
        shutil.rmtree(self.folder, ignore_errors=True)


class LocalCA:
    """A certificate authority of the test; ``issue(*names)`` writes a server certificate."""

    def __init__(self, folder: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import Encoding
        from cryptography.x509.oid import NameOID

        self.folder = folder
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coopfed local CA")])
        now = datetime.now(UTC)
        self._ca = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.cert = folder / "ca.crt"
        self.cert.write_bytes(self._ca.public_bytes(Encoding.PEM))

    def issue(self, *names: str) -> tuple[Path, Path]:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self._ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        stem = names[0].replace("*", "wildcard")
        cert_file, key_file = self.folder / f"{stem}.crt", self.folder / f"{stem}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_file, key_file


def nginx_version() -> tuple[int, ...]:
    out = subprocess.run([NGINX, "-v"], capture_output=True, text=True, check=True).stderr
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out)
    if not found:
        raise RuntimeError(f"cannot read the nginx version: {out}")
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


PROXY_SITE = """
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
        proxy_read_timeout 60s;
    }}
}}
"""


class LocalStack:
    """The guide's services for ``domain`` on ``database_url`` (an empty PostgreSQL database),
    in ``folder``. ``start()`` brings them up and waits for /readyz through https; ``stop()``
    ends every process it started. ``hosts`` maps names to loopback addresses."""

    def __init__(self, folder: Path, database_url: str, domain: str = "a.coop.test") -> None:
        self.folder = folder
        self.database_url = database_url
        self.domain = domain
        block = f"127.{secrets.randbelow(254) + 1}.{secrets.randbelow(256)}"
        self._next = 2
        self._block = block
        self.hosts: dict[str, str] = {}
        self.address = self.add_host(domain)
        self.ca = LocalCA(folder)
        shim = folder / "dns-shim"
        shim.mkdir()
        (shim / "sitecustomize.py").write_text(DNS_SHIM)
        self.instance = folder / "instance"
        self.web_port = free_port()
        self.env = {
            **os.environ,
            "PYTHONPATH": str(shim),
            "COOPFED_INSTANCE_PATH": str(self.instance),
            "COOPFED_WORKER_IN_PROCESS": "false",
            "COOPFED_LOG_JSON": "true",
            "COOPFED_CA_BUNDLE": str(self.ca.cert),  # own CA: the guide's `ca_bundle`
            "COOPFED_ALLOW_PRIVATE_PEERS": "true",  # the peers are on loopback here
            "COOPFED_WORKER_IDLE_SECONDS": "0.2",
            "RUNTIME_DIRECTORY": str(folder / "run"),
        }
        self.sites: list[str] = []
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def add_host(self, name: str) -> str:
        """A loopback address for ``name`` (``*.x`` for every name under x)."""
        address = f"{self._block}.{self._next}"
        self._next += 1
        self.hosts[name] = address
        return address

    def proxy(self, name: str, upstream: int) -> str:
        """Put a server listening on 127.0.0.1:``upstream`` behind nginx as https://name."""
        address = self.add_host(name)
        cert, key = self.ca.issue(name)
        self.sites.append(
            PROXY_SITE.format(address=address, name=name, cert=cert, key=key, upstream=upstream)
        )
        return address

    def lookup(self, name: str) -> str | None:
        name = name.lower().rstrip(".")
        if name in self.hosts:
            return self.hosts[name]
        for pattern, address in self.hosts.items():
            if pattern.startswith("*.") and name.endswith(pattern[1:]):
                return address
        return None

    def patch_dns(self, monkeypatch: Any = None) -> Callable[[], None]:
        """Resolve the stack's names in this process too; returns the undo."""
        real = socket.getaddrinfo

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else host
            address = self.lookup(name) if isinstance(name, str) else None
            if address is not None:
                family, kind, proto = socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
                return [(family, kind, proto, "", (address, int(port)))]
            return real(host, port, *args, **kwargs)

        if monkeypatch is not None:
            monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
            return lambda: None
        socket.getaddrinfo = getaddrinfo
        return lambda: setattr(socket, "getaddrinfo", real)

    def coopfed(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``coopfed ARGS`` as the operator would, in the node's environment."""
        self.env["COOPFED_TEST_HOSTS"] = ",".join(f"{k}={v}" for k, v in self.hosts.items())
        done = subprocess.run(
            [str(VENV_BIN / "coopfed"), *args],
            cwd=REPO, env=self.env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise RuntimeError(f"coopfed {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done

    def start_process(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with (self.folder / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(args, cwd=REPO, env=self.env, stdout=log, stderr=log)
        self.procs[name] = proc
        return proc

    def start_worker(self, n: int) -> subprocess.Popen[bytes]:
        return self.start_process(f"worker{n}", [str(VENV_BIN / "coopfed"), "worker"])

    def start(self, admin: str, password: str, timeout: float = 180) -> None:
        self.coopfed(
            "init", "--domain", self.domain, "--name", "Coop A", "--country", "SE",
            "--database-url", self.database_url, "--admin", admin,
            "--admin-email", f"{admin}@{self.domain}", "--admin-password", password,
        )  # fmt: skip
        self.start_process(
            "gunicorn",
            [str(VENV_BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py",
             "--bind", f"127.0.0.1:{self.web_port}", "node.wsgi:create()"],
        )  # fmt: skip
        for n in (1, 2):
            self.start_worker(n)
        cert, key = self.ca.issue(self.domain)
        prefix = self.folder / "nginx"
        prefix.mkdir()
        sites = site_from_guide(self.domain, self.address, cert, key, self.web_port)
        sites += "".join(self.sites)
        conf = prefix / "nginx.conf"
        conf.write_text(
            f"user root;\ndaemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\n"
            f"error_log {prefix}/error.log warn;\nevents {{ worker_connections 1024; }}\n"
            f"http {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n"
            f"  proxy_temp_path {prefix}/proxy;\n  fastcgi_temp_path {prefix}/fastcgi;\n"
            f"  uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n{sites}\n}}\n"
        )
        check = subprocess.run(
            [NGINX, "-t", "-p", str(prefix), "-c", str(conf)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{check.stderr}")
        self.start_process("nginx", [NGINX, "-p", str(prefix), "-c", str(conf)])
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                r = requests.get(
                    f"https://{self.domain}/readyz", verify=str(self.ca.cert), timeout=10
                )
                if r.status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"https://{self.domain}/readyz not ready\n{self.logs()}")

    def web_workers(self) -> list[int]:
        """The pids of gunicorn's worker processes now."""
        master = self.procs["gunicorn"].pid
        return [int(x) for x in Path(f"/proc/{master}/task/{master}/children").read_text().split()]

    def logs(self) -> str:
        return "\n".join(
            f"--- {name}\n{(self.folder / f'{name}.log').read_text(errors='replace')[-2500:]}"
            for name in self.procs
        )

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
