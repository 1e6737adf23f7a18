"""Real Chromium (Debian's /usr/bin/chromium, driven by Playwright) against a node served on a
loopback port. Nothing global: each test gets its own node, server and browser context, so the
tests also run under pytest-xdist.

Playwright's own browser downloads are never used (`playwright install` is not part of the
setup); without /usr/bin/chromium the tests skip, or fail under COOPFED_REQUIRE_ALL=1.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from profiles.members import ProfileData, create_member
from tests.conftest import need

CHROMIUM = os.environ.get("COOPFED_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "a long enough password"
TIMEOUT_MS = 10_000


@dataclass
class LiveNode:
    app: Any
    base: str

    def url(self, path: str) -> str:
        return self.base + path

    def add_member(self, username: str, **profile: Any) -> None:
        state = self.app.extensions["coopfed"]
        with state.session() as s:
            create_member(
                s,
                state.ctx,
                username=username,
                password=PASSWORD,
                profile=ProfileData(**profile),
                vocab=state.vocabulary.get(s),
            )
            s.commit()

    def label(self, iri: str, lang: str) -> str:
        state = self.app.extensions["coopfed"]
        with state.session() as s:
            return str(state.vocabulary.get(s).label(iri, lang))


@pytest.fixture(scope="session", autouse=True)
def _compiled_translations() -> None:
    """The tests read German and Swedish pages: compile the catalogs if `make` has not."""
    from tests.node.test_i18n import compile_catalogs

    compile_catalogs()


@pytest.fixture
def live_node(make_node: Any) -> Iterator[LiveNode]:
    """A node with its curated vocabulary, served by werkzeug in a thread until the test ends."""
    app = make_node()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveNode(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One browser process per test module (per xdist worker); contexts isolate the tests."""
    need(os.path.exists(CHROMIUM), "Chromium not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Console:
    """What the pages reported: console errors and warnings (CSP violations land here), and
    uncaught exceptions. A page answered with an error status on purpose (401 for a wrong
    password) is allowed with ``allow(path)``."""

    problems: list[str] = field(default_factory=list)
    allowed: set[str] = field(default_factory=set)

    def allow(self, path: str) -> None:
        self.allowed.add(path)

    def on_console(self, msg: Any) -> None:
        if msg.type not in ("error", "warning"):
            return
        url = (msg.location or {}).get("url", "")
        path = urlsplit(url).path
        if msg.text.startswith("Failed to load resource") and path in self.allowed:
            return
        self.problems.append(f"console {msg.type} at {url}: {msg.text}")

    def assert_clean(self) -> None:
        assert self.problems == [], "\n".join(self.problems)


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(chromium: Any, console: Console, live_node: LiveNode) -> Iterator[Any]:
    context = chromium.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    pg.on("console", console.on_console)
    pg.on("pageerror", lambda exc: console.problems.append(f"page error: {exc}"))
    pg.on(
        "response",
        lambda r: (
            console.problems.append(f"HTTP {r.status} {r.url}")
            if r.status >= 500 and r.url.startswith(live_node.base)
            else None
        ),
    )
    try:
        yield pg
    finally:
        pg.close()
        context.close()


@pytest.fixture
def sign_in() -> Any:
    """sign_in(page, node, username, password=PASSWORD): through the login form."""

    def run(page: Any, node: LiveNode, username: str, password: str = PASSWORD) -> None:
        page.goto(node.url("/login"))
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("#content form button[type=submit]")
        page.wait_for_load_state()

    return run
