"""Alembic migrations build exactly the schema the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from federation.db import Base
from node import db as node_db


def test_upgrade_matches_models_and_is_idempotent(throwaway_db):
    engine = throwaway_db("migrations").engine  # empty: SQLite file or fresh PostgreSQL schema
    node_db.upgrade(engine)
    node_db.upgrade(engine)  # a second run is a no-op
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
