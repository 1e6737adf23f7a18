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

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
