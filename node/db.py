"""Engine, sessions and migrations. One MetaData (federation.db.Base) for the whole node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

import federation.models  # noqa: F401  (registers federation's tables on Base)
import node.ops.models  # noqa: F401  (operations snapshots)
import profiles.mail  # noqa: F401  (mail queue and preferences)
import profiles.models  # noqa: F401  (registers the domain's tables on Base)
import profiles.tokens  # noqa: F401  (used one-time tokens)
from federation.db import Base

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite's own transaction handling breaks SAVEPOINTs (begin_nested() could
            # commit the outer transaction): let SQLAlchemy emit BEGIN itself, as its docs advise
            # (docs.sqlalchemy.org/en/20/dialects/sqlite.html, "Serializable isolation /
            # Savepoints / Transactional DDL").
            dbapi_conn.isolation_level = None
            # WAL lets the worker thread write while web threads read; foreign keys are off by
            # default in SQLite and our cascades rely on them.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url and url != "sqlite://":
                cur.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL: no fsync per commit (only at checkpoints); never corrupts, and
                # survives a crash of the node; a power cut may roll back the last commits.
                # GoToSocial's default for the same reason (docs.gotosocial.org, "Replicating
                # SQLite"); under disk contention per-commit fsync was most of an inbox POST.
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    command.upgrade(alembic_config(engine), "head")


def create_all(engine: Engine) -> None:
    """Tests only: create every table straight from the models (faster than migrating)."""
    Base.metadata.create_all(engine)
