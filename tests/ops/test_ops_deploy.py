"""The production deploy of deploy/README.md, end to end on loopback (deploy/local_stack.py):
a node on PostgreSQL made with ``coopfed init``, gunicorn with deploy/gunicorn.conf.py (2 web
workers, preloaded), 2 ``coopfed worker`` processes, nginx with deploy/nginx.conf terminating TLS
with certificates of a local CA. A partner coop (in this process, behind the same nginx)
receives what the node publishes.

The smoke check goes through https only: ready, metrics from loopback, the operator's
partnership request (``coopfed partner request`` as a command), a member signs in and publishes
a call with the web form, the workers deliver it to the partner. Needs PostgreSQL, nginx, root.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from werkzeug.serving import make_server

from deploy.local_stack import NGINX, LocalStack, free_port
from node.cli.partners import partner
from node.worker import Worker
from profiles.models import Call, Partnership
from tests.conftest import PG_URL, need

DEPLOY_PG = PG_URL or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PASSWORD = "a long deploy password"
SKILL = "http://data.europa.eu/esco/skill/91fc256e-00ec-4367-b3b4-dcd564ed3fd2"


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


def wait_for(check: Callable[[], bool], what: str, stack: LocalStack, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{stack.logs()}")


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


@pytest.mark.timeout(600)  # processes start, build their index, federate: minutes on a busy CI
def test_deploy_guide_end_to_end(tmp_path, pg_database, make_node, monkeypatch) -> None:
    need(Path(NGINX).exists(), "nginx is needed for the deploy test")
    need(os.geteuid() == 0, "binding 127.x.y.z:443 for the deploy test needs root")
    stack = LocalStack(tmp_path, pg_database)
    stack.patch_dns(monkeypatch)
    # The partner coop, in this process (a werkzeug thread behind the same nginx).
    peer_port = free_port()
    stack.proxy("p.coop.test", peer_port)
    peer = make_node(
        domain="p.coop.test", name="Partner coop", country="BE", dev_mode=False,
        allow_private_peers=True, ca_bundle=str(stack.ca.cert),
    )  # fmt: skip
    server = make_server("127.0.0.1", peer_port, peer, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        stack.start("anna", PASSWORD)
        smoke(stack, peer)
    finally:
        stack.stop()
        server.shutdown()
        server.server_close()


def smoke(stack: LocalStack, peer: Any) -> None:
    base, ca = f"https://{stack.domain}", str(stack.ca.cert)
    ready = requests.get(f"{base}/readyz", verify=ca, timeout=10)
    assert ready.json() == {"status": "ready"}
    # nginx gives every request its $request_id; the node logs it and echoes it.
    assert re.fullmatch(r"[0-9a-f]{32}", ready.headers["X-Request-Id"])
    assert ready.headers.get("Strict-Transport-Security")
    metrics = requests.get(f"{base}/metrics", verify=ca, timeout=10)
    assert metrics.status_code == 200 and "coopfed_delivery_queue_depth" in metrics.text

    # The operator asks for a partnership with the command the guide names.
    stack.coopfed("partner", "request", "p.coop.test")
    state = peer.extensions["coopfed"]
    node_db = create_engine(stack.database_url)

    def partnership_active() -> bool:
        Worker(state).run_once()  # the partner's worker: receives, then answers
        # The partner's admin accepts (refused until the request has arrived).
        CliRunner().invoke(partner, ["accept", stack.domain], obj={"state": state})
        with node_db.connect() as conn:
            got = conn.execute(
                select(Partnership.state).where(Partnership.domain == "p.coop.test")
            ).scalar()
        return got == "active"

    try:
        wait_for(partnership_active, "the partnership to be active", stack)

        # A member signs in through https and publishes a call with the web form.
        web = requests.Session()
        web.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would beat verify=
        web.verify = ca
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
                titles = s.scalars(select(Call.title).where(Call.node == stack.domain)).all()
            return "Deployed: sound engineer wanted" in titles

        wait_for(delivered, "the call to reach the partner", stack)
        for name, proc in stack.procs.items():
            assert proc.poll() is None, f"{name} exited\n{stack.logs()}"
        # Both worker processes log JSON lines (the guide's log_json).
        for n in (1, 2):
            log = (stack.folder / f"worker{n}.log").read_text()
            assert '"logger": "coopfed.worker"' in log
    finally:
        node_db.dispose()
