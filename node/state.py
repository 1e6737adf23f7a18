"""Per-app state: everything a node needs at run time, created by ``create_app``.

Two nodes can live in one process (tests, the demo), so nothing here is global.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from node.settings import Settings
from profiles.context import NodeContext
from profiles.events import Listener
from profiles.vocabulary import VocabularyCache


@dataclass
class NodeState:
    settings: Settings
    engine: Engine
    sessionmaker: sessionmaker[Session]
    ctx: NodeContext
    vocabulary: VocabularyCache = field(default_factory=VocabularyCache)
    listeners: list[Listener] = field(default_factory=list)
    services: dict[str, Any] = field(default_factory=dict)  # matchmaking, federation, worker…

    def session(self) -> Session:
        """A new Session wired to this node's domain-event listeners."""
        session = self.sessionmaker()
        session.info["coopfed_listeners"] = self.listeners
        session.info["coopfed_node"] = self.ctx.domain
        return session
