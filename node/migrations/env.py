"""Alembic environment: the engine is handed in by node.db (no alembic.ini, no URL in files)."""

from __future__ import annotations

from alembic import context

import federation.models  # noqa: F401
import node.ops.models  # noqa: F401
import profiles.api_tokens  # noqa: F401
import profiles.collab.models  # noqa: F401
import profiles.invitations  # noqa: F401  (member invitations)
import profiles.mail  # noqa: F401
import profiles.models  # noqa: F401
import profiles.tokens  # noqa: F401
from federation.db import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    # SQLite alters a table by rebuilding it (batch mode: copy, DROP, rename). With foreign keys
    # on, that DROP cascades: rebuilding ``members`` would delete every call, skill and key row
    # referring to it. So they are off while migrating (sqlite.org/lang_altertable.html, "making
    # other kinds of table schema changes", step 1), set outside any transaction (the pragma is
    # a no-op inside one), and on again before the connection returns to the pool.
    raw = connection.connection.driver_connection if sqlite else None
    if raw is not None:
        raw.execute("PRAGMA foreign_keys=OFF")
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=ON")
