"""Wires :mod:`node.ops` into an app (kept out of the package's ``__init__``: ``node.db`` imports
``node.ops.models`` and must not pull Flask in)."""

from __future__ import annotations

from flask import Flask

from node.state import NodeState


def install(app: Flask, state: NodeState) -> None:
    from node.ops import dashboard, logs, snapshots, web
    from node.worker import register_job

    logs.install(app, state.settings)
    web.install(app, state)
    app.register_blueprint(dashboard.bp)
    register_job(state, "ops.snapshot", snapshots.SnapshotJob())
