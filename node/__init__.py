"""coopfed node: the composition root (app factory, CLI, worker, web UI, API, migrations)."""

from __future__ import annotations

from typing import Any


def create_app(*args: Any, **kwargs: Any) -> Any:
    from node.app import create_app as _create_app

    return _create_app(*args, **kwargs)
