"""A node for benchmarks: the shipped vocabulary loaded, no worker thread, on SQLite in
``folder`` or on the PostgreSQL ``database_url``."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from node import db as node_db  # noqa: E402
from node.app import create_app  # noqa: E402
from node.settings import Settings  # noqa: E402
from profiles.vocabulary import load_curated  # noqa: E402


def make_node(folder: Path, database_url: str = "") -> Any:
    """The node's NodeState (Smart Sverige on smart.test); its engine is ``state.engine``."""
    settings = Settings(
        instance_path=folder,
        domain="smart.test",
        name="Smart Sverige",
        secret_key=secrets.token_hex(16),
        dev_mode=True,
        worker_in_process=False,
        database_url=database_url,
    )
    engine = node_db.make_engine(settings.sqlalchemy_url)
    node_db.create_all(engine)
    state = create_app(settings, engine=engine).extensions["coopfed"]
    with state.session() as s:
        load_curated(s)
        s.commit()
    return state
