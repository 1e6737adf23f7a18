"""Per-app state: everything a node needs at run time, created by ``create_app``.

Two nodes can live in one process (tests, the demo), so nothing here is global: the services a
node runs (federation, the match index) and the worker's jobs are fields of its state, set by
``node.extensions.install``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from node.settings import Settings
from profiles.context import NodeContext
from profiles.events import Listener
from profiles.vocabulary import VocabularyCache

if TYPE_CHECKING:  # the services import this module: annotations only
    from node.ap.service import NodeFederation
    from node.mail import NodeMail
    from node.match_service import MatchService

# A worker job does one bounded step of work and returns how many items it handled.
Job = Callable[["NodeState"], int]


class NotInstalled(RuntimeError):
    """A service was asked for before ``node.extensions.install`` set it up."""


@dataclass
class NodeState:
    settings: Settings
    engine: Engine
    sessionmaker: sessionmaker[Session]
    ctx: NodeContext
    vocabulary: VocabularyCache = field(default_factory=VocabularyCache)
    listeners: list[Listener] = field(default_factory=list)
    # The services, set by node.extensions.install (None until then).
    federation: NodeFederation | None = None
    matching: MatchService | None = None
    mail: NodeMail | None = None
    # The worker's jobs, in the order they run: (name, job).
    jobs: list[tuple[str, Job]] = field(default_factory=list)

    def session(self) -> Session:
        """A new Session wired to this node's domain-event listeners."""
        session = self.sessionmaker()
        session.info["coopfed_listeners"] = self.listeners
        session.info["coopfed_node"] = self.ctx.domain
        return session

    def add_job(self, name: str, job: Job) -> None:
        self.jobs.append((name, job))

    def federation_service(self) -> NodeFederation:
        """The ActivityPub service (raises :class:`NotInstalled` before ``install``)."""
        if self.federation is None:
            raise NotInstalled("federation is not installed on this node")
        return self.federation

    def match_service(self) -> MatchService:
        """The match index service (raises :class:`NotInstalled` before ``install``)."""
        if self.matching is None:
            raise NotInstalled("matchmaking is not installed on this node")
        return self.matching

    def mail_service(self) -> NodeMail:
        """The outgoing mail service (raises :class:`NotInstalled` before ``install``)."""
        if self.mail is None:
            raise NotInstalled("mail is not installed on this node")
        return self.mail
