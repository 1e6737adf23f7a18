"""Shared helpers for the node's web tests live in node_helpers.py, next to the tests (as in
tests/mail and tests/matchmaking)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
