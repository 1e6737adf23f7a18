"""Shared fixtures: a node on SQLite (default) or PostgreSQL (COOPFED_TEST_DATABASE_URL).

Resources a fresh laptop may lack (PostgreSQL, Chromium, the ESCO files) make their tests skip
with a visible reason — unless COOPFED_REQUIRE_ALL=1 (CI), where a missing resource fails the
run: every such test goes through :func:`need` (or a fixture that calls it, e.g. ``esco_dir``).

Every test database comes from :func:`throwaway_database` (or the ``throwaway_db`` fixture): an
empty SQLite file, or a fresh schema on the PostgreSQL server, dropped afterwards.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

REPO = Path(__file__).resolve().parent.parent
ESCO_DIR = REPO.parent / "shared" / "data" / "esco"
REQUIRE_ALL = os.environ.get("COOPFED_REQUIRE_ALL") == "1"
PG_URL = os.environ.get("COOPFED_TEST_DATABASE_URL")
# Dropping a schema waits for every lock on its tables: a session a test leaked (never closed)
# would make the teardown hang forever. With a lock timeout it fails, naming the schema.
DROP_LOCK_TIMEOUT = "20s"


def need(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (CI with COOPFED_REQUIRE_ALL=1) when a resource is missing."""
    if condition:
        return
    if REQUIRE_ALL:
        pytest.fail(f"required resource missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def esco_dir() -> Path:
    """The ESCO CSV export (never copied into the repo), through the :func:`need` gate."""
    need(ESCO_DIR.is_dir(), f"ESCO test data not found at {ESCO_DIR}")
    return ESCO_DIR


# -- throwaway databases ----------------------------------------------------------------------

EngineFactory = Callable[..., Engine]


@dataclass(frozen=True)
class ThrowawayDatabase:
    """An empty database of one's own (no tables: the caller makes them, or migrates)."""

    url: str  # SQLite: the file's URL; PostgreSQL: the server's URL (COOPFED_TEST_DATABASE_URL)
    schema: str | None  # PostgreSQL: the schema every connection's search_path points at
    engine: Engine
    sqlite_path: Path | None  # SQLite: the file (absent until the first connection)

    def env(self, prefix: str) -> dict[str, str]:
        """``{PREFIX_URL, PREFIX_SCHEMA}`` for a subprocess (schema empty on SQLite)."""
        return {f"{prefix}_URL": self.url, f"{prefix}_SCHEMA": self.schema or ""}


def _schema_name(name: str) -> str:
    # The test's name in the schema tells a leaked schema's origin; the suffix keeps xdist
    # workers and repeated names apart. PostgreSQL identifiers stop at 63 bytes.
    slug = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")[:24] or "db"
    return f"t_{slug}_{secrets.token_hex(5)}"


@contextmanager
def throwaway_database(
    directory: Path, name: str, *, make_engine: EngineFactory | None = None
) -> Iterator[ThrowawayDatabase]:
    """An empty database named ``name``, disposed (and on PostgreSQL dropped) on exit.

    Without COOPFED_TEST_DATABASE_URL: the SQLite file ``directory/<name>.db``. With it: a fresh
    schema on that server, reached through ``search_path`` on every connection. ``make_engine``
    (default ``node.db.make_engine``, the node's own pragmas and options) builds the engine from
    a URL and keyword arguments, like ``sqlalchemy.create_engine``. On exit the engine is
    disposed, then the schema is dropped under a lock timeout: a session left open by the test
    makes the teardown fail instead of hang.
    """
    if make_engine is None:
        from node import db as node_db

        make_engine = node_db.make_engine
    if not PG_URL:
        path = directory / f"{name}.db"
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        try:
            yield ThrowawayDatabase(url, None, engine, path)
        finally:
            engine.dispose()
        return
    schema = _schema_name(name)
    admin = create_engine(PG_URL, poolclass=NullPool)  # no idle connection while the test runs
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        options = {"options": f"-csearch_path={schema}"}
        db = ThrowawayDatabase(PG_URL, schema, make_engine(PG_URL, connect_args=options), None)
        try:
            yield db
        finally:
            db.engine.dispose()
            try:
                with admin.begin() as conn:
                    conn.execute(text(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'"))
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            except OperationalError as exc:
                raise AssertionError(
                    f"could not drop test schema {schema} (a session left open?): {exc.orig}"
                ) from exc
    finally:
        admin.dispose()


@pytest.fixture
def throwaway_db(tmp_path: Path) -> Iterator[Callable[..., ThrowawayDatabase]]:
    """Factory: ``throwaway_db(name, make_engine=None)`` -> :class:`ThrowawayDatabase` (see
    :func:`throwaway_database`), all dropped when the test ends, last made first."""
    with ExitStack() as stack:

        def make(name: str, *, make_engine: EngineFactory | None = None) -> ThrowawayDatabase:
            return stack.enter_context(throwaway_database(tmp_path, name, make_engine=make_engine))

        yield make


@pytest.fixture(autouse=True)
def _fresh_process_caches() -> Iterator[None]:
    """The process-wide host-health cache (for callers owning none) must not carry one test's
    hosts into the next; a node's own cache lives and dies with the node."""
    from federation import retry

    retry.PROCESS_HEALTH.clear()
    yield
    retry.PROCESS_HEALTH.clear()


@pytest.fixture
def make_node(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Factory: make_node(domain="smart.se", ...) -> Flask app with the curated vocabulary loaded.

    Several nodes in one test get separate SQLite files, or separate PostgreSQL schemas.
    """
    from node import db as node_db
    from node.app import create_app
    from node.settings import Settings
    from profiles.vocabulary import load_curated

    with ExitStack() as stack:

        def factory(
            domain: str = "smart.test", name: str = "Smart Test", country: str = "SE", **kw: Any
        ) -> Any:
            instance = tmp_path / domain.replace(":", "_")
            instance.mkdir(exist_ok=True)
            db = stack.enter_context(throwaway_database(instance, "coopfed"))
            node_db.create_all(db.engine)
            settings = Settings(
                instance_path=instance,
                domain=domain,
                name=name,
                country=country,
                secret_key=secrets.token_hex(16),
                dev_mode=kw.pop("dev_mode", True),
                worker_in_process=False,
                **kw,
            )
            app = create_app(settings, engine=db.engine)
            app.config["TESTING"] = True
            state = app.extensions["coopfed"]
            with state.session() as s:
                load_curated(s)
                s.commit()
            return app

        yield factory


@pytest.fixture
def app(make_node):
    return make_node()


@pytest.fixture
def client(app):
    return app.test_client()
