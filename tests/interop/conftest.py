"""Interop harness: a real Fedify server (tests/interop/fedify/peer.mjs, Fedify 2.3.6 from the
npm registry, run by Node) next to real coopfed nodes served by werkzeug on 127.0.0.1.

``fedify`` starts the peer (installing it with ``npm ci`` from the committed lock file on first
use); it skips locally and fails in CI (``need``) when node/npm are missing. The peer's answers
are Fedify's own: a failed command raises :class:`PeerError` with Fedify's message and the
warnings and errors Fedify logged, so a failure reads like the peer's own error.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from tests.conftest import need

PEER_DIR = Path(__file__).resolve().parent / "fedify"
SIGNATURE_SPECS = ("rfc9421", "draft-cavage-http-signatures-12")


class PeerError(AssertionError):
    """A control command failed inside the Fedify peer."""


def install_peer() -> None:
    """``npm ci`` from package-lock.json once per checkout (a file lock serialises xdist
    workers). Offline-capable from npm's cache."""
    need(
        shutil.which("node") is not None and shutil.which("npm") is not None,
        "Node.js and npm are needed for the Fedify interop tests",
    )
    marker = PEER_DIR / "node_modules" / ".coopfed-installed"
    lock_file = PEER_DIR / "package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= lock_file.stat().st_mtime:
        return
    with open(PEER_DIR / ".npm-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.stat().st_mtime >= lock_file.stat().st_mtime:
            return
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
            cwd=PEER_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            pytest.fail(f"npm ci for the Fedify peer failed:\n{result.stderr[-3000:]}")
        marker.touch()


@dataclass
class FedifyPeer:
    """The running peer: its actor, and its control API (see peer.mjs)."""

    proc: subprocess.Popen[str]
    port: int
    actor: str
    stderr: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, command: str, **args: Any) -> Any:
        try:
            response = requests.post(f"{self.base}/_control/{command}", json=args, timeout=120)
        except requests.RequestException as exc:
            raise PeerError(f"Fedify peer unreachable ({exc}); stderr:\n{self.tail()}") from exc
        answer = response.json()
        if response.status_code != 200:
            logged = "\n".join(
                f"  [{e['level']}] {e['category']}: {e['message'][:800]}"
                for e in answer.get("errors", [])[-8:]
            )
            raise PeerError(f"Fedify: {answer.get('error')}\nFedify logged:\n{logged or '  -'}")
        return answer

    def state(self) -> dict[str, Any]:
        return dict(self.call("state"))

    def follow(self, target: str, spec: str = "rfc9421") -> dict[str, Any]:
        return dict(self.call("follow", target=target, spec=spec))

    def undo(self, target: str, follow: str, spec: str = "rfc9421") -> dict[str, Any]:
        return dict(self.call("undo", target=target, follow=follow, spec=spec))

    def create(self, content: str, spec: str = "rfc9421") -> dict[str, Any]:
        return dict(self.call("create", content=content, spec=spec))

    def lookup(self, url: str) -> dict[str, Any]:
        return dict(self.call("lookup", url=url))

    def verify(self, document: dict[str, Any]) -> bool:
        return bool(self.call("verify", document=document)["verified"])

    def errors(self) -> list[dict[str, Any]]:
        return list(self.state()["errors"])

    def said(self, last: int = 6) -> str:
        """Fedify's latest warnings and errors, for assertion messages."""
        return "\n".join(
            f"  [{e['level']}] {e['category']}: {e['message'][:800]}" for e in self.errors()[-last:]
        )

    def tail(self) -> str:
        try:
            return self.stderr.read_text()[-3000:]
        except OSError:
            return ""


# Node loads Fedify in ~2 s on an idle machine; a CI runner busy with the rest of the suite
# can take ten times that.
PEER_START_TIMEOUT = 90


def _stop(proc: subprocess.Popen[str]) -> None:
    """End the peer (it exits at the end of its stdin) and close our ends of its pipes."""
    try:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(10)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
    finally:
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def fedify(tmp_path: Path) -> Iterator[FedifyPeer]:
    install_peer()
    stderr = tmp_path / "fedify-peer.stderr"
    with open(stderr, "w") as err:
        proc = subprocess.Popen(
            ["node", "peer.mjs", "0"],
            cwd=PEER_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        ready: dict[str, Any] = {}

        def read_ready() -> None:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line:
                ready.update(json.loads(line))

        reader = threading.Thread(target=read_ready, daemon=True)
        reader.start()
        reader.join(PEER_START_TIMEOUT)
        if not ready.get("ready"):
            pytest.fail(
                f"the Fedify peer did not start within {PEER_START_TIMEOUT} s:\n"
                f"{stderr.read_text()[-3000:]}"
            )
        yield FedifyPeer(proc, int(ready["port"]), str(ready["actor"]), stderr)
    finally:
        _stop(proc)


# -- coopfed nodes on loopback ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Seen:
    """One request a node received (observed by a WSGI wrapper, not changed)."""

    method: str
    path: str
    status: int
    scheme: str | None  # "rfc9421", "draft-cavage" or None (unsigned)


@dataclass
class ServedNode:
    app: Any
    base: str
    seen: list[Seen] = field(default_factory=list)

    @property
    def state(self) -> Any:
        return self.app.extensions["coopfed"]

    @property
    def federation(self) -> Any:
        return self.state.federation_service()

    def step(self) -> int:
        from node.worker import Worker

        return int(Worker(self.state).run_once())

    def pump(self, until: Callable[[], bool] | None = None, timeout: float = 60) -> None:
        """Run the node's worker until ``until()`` holds (or, without it, until idle)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            worked = self.step()
            if until is None and worked == 0:
                return
            if until is not None and until():
                return
            if worked == 0:
                time.sleep(0.05)
        raise AssertionError(f"{self.base}: condition not reached within {timeout} s")

    def inbox_posts(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "POST" and s.path.endswith("inbox")]


def _observe(node: ServedNode, wsgi_app: Any) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        scheme = None
        if environ.get("HTTP_SIGNATURE_INPUT"):
            scheme = "rfc9421"
        elif environ.get("HTTP_SIGNATURE"):
            scheme = "draft-cavage"

        def record(status: str, headers: Any, *rest: Any) -> Any:
            node.seen.append(
                Seen(environ["REQUEST_METHOD"], environ["PATH_INFO"], int(status[:3]), scheme)
            )
            return start_response(status, headers, *rest)

        return wsgi_app(environ, record)

    return app


@pytest.fixture
def serve_node(make_node: Any) -> Iterator[Callable[..., ServedNode]]:
    """serve_node(name=...) -> a dev-mode node on http://127.0.0.1:PORT, threaded werkzeug."""
    servers: list[Any] = []

    def start(name: str = "Coop A", country: str = "SE") -> ServedNode:
        port = free_port()
        app = make_node(domain=f"127.0.0.1:{port}", name=name, country=country)
        node = ServedNode(app, f"http://127.0.0.1:{port}")
        app.wsgi_app = _observe(node, app.wsgi_app)
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return node

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# -- domain data through the real writers -----------------------------------------------------


def add_member(state: Any, username: str, visibility: str = "public") -> str:
    """A member with every profile field filled, created the way the product does; returns the
    actor IRI."""
    from profiles import members as member_service
    from profiles.models import MemberPhrase

    with state.session() as s:
        v = state.vocabulary.get(s)
        skills = sorted(i for i, k in v.kinds.items() if k == "skill")[:2]
        occupations = sorted(i for i, k in v.kinds.items() if k == "occupation")[:1]
        profile = member_service.ProfileData(
            name=username.title(),
            summary="Sound engineer and translator",
            visibility=visibility,
            country="SE",
            skills=skills,
            languages=[("sv", "native"), ("en", "C1")],
            occupations=occupations,
            availability=[(date(2027, 6, 1), date(2027, 8, 31))],
            links=[("https://example.org/portfolio", "Portfolio")],
            language_pairs=[("sv", "en"), ("en", "sv")],
        )
        member = member_service.create_member(
            s,
            state.ctx,
            username=username,
            password="correct horse battery",
            profile=profile,
            vocab=v,
        )
        # Their own words, as the importer keeps them (one understood, one not).
        member.phrases = [
            MemberPhrase(kind="skill", text="ljudteknik", lang="sv", status="unlinked"),
            MemberPhrase(
                position=1,
                kind="skill",
                text="mixing",
                lang="en",
                concept_iri=skills[0],
                status="proposed",
            ),
        ]
        s.commit()
        return str(member.ap_id)


def add_call(state: Any, author: str, title: str, **extra: Any) -> str:
    """A public call with every field filled (dates, deadline); returns its IRI."""
    from profiles import calls as call_service
    from profiles import members as member_service

    with state.session() as s:
        v = state.vocabulary.get(s)
        member = member_service.get_local(s, state.ctx, author)
        skills = sorted(i for i, k in v.kinds.items() if k == "skill")[:1]
        values: dict[str, Any] = {
            "title": title,
            "description": "<p>We need help with a festival</p>",
            "country": "SE",
            "city": "Malmö",
            "skills_required": skills,
            "languages": ["en"],
            "visibility": "public",
            "starts": date(2027, 6, 1),
            "ends": date(2027, 6, 30),
            "compensation": "EUR 400 a day",
            "deadline": date(2027, 5, 1),
            "languages_all": True,
            "language_pairs": [("sv", "en")],
        }
        values.update(extra)
        call = call_service.create_call(s, state.ctx, member, call_service.CallData(**values), v)
        s.commit()
        return str(call.ap_id)
