"""Issue 10, defect 10: sign-in throttling behind a real nginx in front of gunicorn.

The documented chain (deploy/nginx.conf's ``X-Forwarded-For $proxy_add_x_forwarded_for``,
``COOPFED_TRUSTED_PROXIES=1``): each client is throttled on its own address, so a guessing
client does not block anyone else, and a client cannot escape by sending its own
``X-Forwarded-For``. Clients are told apart by their loopback source address (127.0.0.5 and
127.0.0.6).
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from federation.db import utcnow
from tests.conftest import need

PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{what} is not listening on {port}")


class Browser:
    """A client with its own source address, cookies and the sign-in form's CSRF token."""

    def __init__(self, port: int, source: str) -> None:
        self.port, self.source = port, source
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None, **headers: str) -> Any:
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=20, source_address=(self.source, 0)
        )
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read().decode("utf-8", "replace")
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _eq, rest = value.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        conn.close()
        return response.status, data

    def login(self, password: str, **headers: str) -> int:
        _status, page = self.request("GET", "/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, page[:500]
        form = urlencode({"csrf_token": token.group(1), "username": "alice", "password": password})
        status, _body = self.request("POST", "/login", form, **headers)
        return int(status)


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[int, Any]]:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    gunicorn = Path(sys.executable).parent / "gunicorn"
    need(nginx is not None, "nginx is needed for the proxy test")
    need(gunicorn.exists(), "gunicorn is needed for the proxy test")
    from node import db as node_db
    from node.app import create_app
    from node.settings import Settings, write_settings_file
    from profiles import members as member_service
    from profiles.vocabulary import load_curated

    instance = tmp_path / "instance"
    instance.mkdir()
    app_port, front_port = _free_port(), _free_port()
    write_settings_file(
        instance / "coopfed.toml",
        {
            "domain": f"127.0.0.1:{front_port}",
            "name": "Proxy Coop",
            "country": "SE",
            "secret_key": secrets.token_hex(16),
            "dev_mode": True,
            "worker_in_process": False,
            "trusted_proxies": 1,
        },
    )
    settings = Settings.load(instance)
    engine = node_db.make_engine(settings.sqlalchemy_url)
    node_db.create_all(engine)
    app = create_app(settings, engine=engine)
    state = app.extensions["coopfed"]
    with state.session() as s:
        load_curated(s)
        member_service.create_member(
            s,
            state.ctx,
            username="alice",
            password=PASSWORD,
            profile=member_service.ProfileData(name="Alice", visibility="coop"),
            vocab=state.vocabulary.get(s),
        )
        s.commit()

    env = {**os.environ, "COOPFED_INSTANCE_PATH": str(instance)}
    web = subprocess.Popen(
        [str(gunicorn), "-b", f"127.0.0.1:{app_port}", "-w", "1", "node.wsgi:create()"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    user = "user root;" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(
        f"""
{user}
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{front_port};
        location / {{
            proxy_pass http://127.0.0.1:{app_port};
            proxy_set_header Host $host:{front_port};
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""
    )
    assert nginx is not None
    front = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(app_port, web, "gunicorn")
        _wait(front_port, front, "nginx")
        yield front_port, state
    finally:
        for proc in (front, web):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        engine.dispose()


def test_each_client_behind_nginx_is_throttled_on_its_own(proxied: tuple[int, Any]) -> None:
    from profiles.models import LoginAttempt

    port, state = proxied
    guesser, owner = Browser(port, "127.0.0.5"), Browser(port, "127.0.0.6")
    assert owner.login("wrong horse") == 401
    with state.session() as s:  # the address came through nginx and ProxyFix
        keys = set(s.scalars(select(LoginAttempt.key)))
        assert "ip:127.0.0.6" in keys and "ip:127.0.0.1" not in keys
        now = utcnow()
        for i in range(16):  # the guesser failed many times (a delay of about a minute)
            s.add(LoginAttempt(key="ip:127.0.0.5", at=now - timedelta(seconds=16 - i)))
        s.commit()
    assert guesser.login(PASSWORD) == 429
    # Its own X-Forwarded-For does not make it someone else: only nginx's hop is trusted.
    assert guesser.login(PASSWORD, **{"X-Forwarded-For": "198.51.100.9"}) == 429
    assert owner.login(PASSWORD) == 302  # everyone else signs in as usual
