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


def make_app(folder: Path, database_url: str = "", *, curated: bool = True, **settings: Any) -> Any:
    """A node's Flask app, its schema created (on SQLite in ``folder`` unless ``database_url``),
    with the shipped vocabulary loaded unless ``curated`` is False. ``settings``: fields of
    :class:`node.settings.Settings` other than the defaults here (Smart Sverige on
    smart.test, dev mode, no worker thread)."""
    values: dict[str, Any] = {
        "domain": "smart.test",
        "name": "Smart Sverige",
        "dev_mode": True,
        "worker_in_process": False,
        **settings,
    }
    config = Settings(
        instance_path=folder,
        secret_key=secrets.token_hex(16),
        database_url=database_url,
        **values,
    )
    engine = node_db.make_engine(config.sqlalchemy_url)
    node_db.create_all(engine)
    app = create_app(config, engine=engine)
    if curated:
        with app.extensions["coopfed"].session() as s:
            load_curated(s)
            s.commit()
    return app


def make_node(folder: Path, database_url: str = "") -> Any:
    """The node's NodeState (Smart Sverige on smart.test); its engine is ``state.engine``."""
    return make_app(folder, database_url).extensions["coopfed"]
