"""Alembic migrations build exactly the schema the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import secrets

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from federation.db import Base
from node import db as node_db


def _engine(tmp_path):
    url = os.environ.get("COOPFED_TEST_DATABASE_URL")
    if not url:
        return node_db.make_engine(f"sqlite:///{tmp_path / 'm.db'}"), None
    schema = "m_" + secrets.token_hex(5)
    admin = node_db.make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    return node_db.make_engine(url, connect_args={"options": f"-csearch_path={schema}"}), schema


def test_upgrade_matches_models_and_is_idempotent(tmp_path):
    engine, schema = _engine(tmp_path)
    try:
        node_db.upgrade(engine)
        node_db.upgrade(engine)  # a second run is a no-op
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
    finally:
        engine.dispose()
        if schema:
            admin = node_db.make_engine(os.environ["COOPFED_TEST_DATABASE_URL"])
            with admin.begin() as conn:
                conn.execute(
                    text("SET LOCAL lock_timeout = '20s'")
                )  # a leaked session fails, not hangs
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
