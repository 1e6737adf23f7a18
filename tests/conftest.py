"""Shared fixtures: a node on SQLite (default) or PostgreSQL (COOPFED_TEST_DATABASE_URL).

Resources a fresh laptop may lack (PostgreSQL, Chromium) make their tests skip with a visible
reason — unless COOPFED_REQUIRE_ALL=1 (CI), where a missing resource fails the run.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

REPO = Path(__file__).resolve().parent.parent
ESCO_DIR = REPO.parent / "shared" / "data" / "esco"
REQUIRE_ALL = os.environ.get("COOPFED_REQUIRE_ALL") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (CI with COOPFED_REQUIRE_ALL=1) when a resource is missing."""
    if condition:
        return
    if REQUIRE_ALL:
        pytest.fail(f"required resource missing: {reason}")
    pytest.skip(reason)


def test_database_url(tmp_path: Path) -> str:
    return os.environ.get("COOPFED_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'node.db'}"


def reset_database(engine: Engine) -> None:
    """Empty schema for a test: drop everything and recreate from the models."""
    from federation.db import Base
    from node import db as node_db

    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        Base.metadata.drop_all(engine)
    node_db.create_all(engine)


@pytest.fixture(autouse=True)
def _fresh_process_caches() -> Iterator[None]:
    """Per-process caches keyed by host name must not carry one test's hosts into the next."""
    from federation import retry

    retry._known_healthy.clear()
    yield
    retry._known_healthy.clear()


@pytest.fixture
def make_node(tmp_path: Path) -> Iterator:
    """Factory: make_node(domain="smart.se", ...) -> Flask app with the curated vocabulary loaded.

    Several nodes in one test get separate SQLite files, or separate PostgreSQL schemas.
    """
    from node import db as node_db
    from node.app import create_app
    from node.settings import Settings
    from profiles.vocabulary import load_curated

    engines: list[Engine] = []
    base_url = os.environ.get("COOPFED_TEST_DATABASE_URL")

    def factory(domain: str = "smart.test", name: str = "Smart Test", country: str = "SE", **kw):
        instance = tmp_path / domain.replace(":", "_")
        instance.mkdir(exist_ok=True)
        if base_url:
            schema = "t_" + secrets.token_hex(6)
            admin_engine = node_db.make_engine(base_url)
            with admin_engine.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            admin_engine.dispose()
            engine = node_db.make_engine(
                base_url, connect_args={"options": f"-csearch_path={schema}"}
            )
            engine.info_schema = schema  # type: ignore[attr-defined]
        else:
            engine = node_db.make_engine(f"sqlite:///{instance / 'coopfed.db'}")
        engines.append(engine)
        node_db.create_all(engine)
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
        app = create_app(settings, engine=engine)
        app.config["TESTING"] = True
        state = app.extensions["coopfed"]
        with state.session() as s:
            load_curated(s)
            s.commit()
        return app

    yield factory
    for engine in engines:
        schema = getattr(engine, "info_schema", None)
        engine.dispose()
        if schema and base_url:
            admin_engine = node_db.make_engine(base_url)
            with admin_engine.begin() as conn:
                # A session a test left open would make DROP wait forever: fail loudly instead.
                conn.execute(text("SET LOCAL lock_timeout = '20s'"))
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin_engine.dispose()


@pytest.fixture
def app(make_node):
    return make_node()


@pytest.fixture
def client(app):
    return app.test_client()
