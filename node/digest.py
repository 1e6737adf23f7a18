"""The digest of new calls (issue 9): filled in below."""

from __future__ import annotations

from flask import Flask

from node.state import NodeState


def install(app: Flask, state: NodeState) -> None:
    """Register the digest job."""
