"""Per-app state: everything a node needs at run time, created by ``create_app``.

Two nodes can live in one process (tests, the demo), so nothing here is global: the services a
node runs (federation, the match index) and the worker's jobs are fields of its state, set by
``node.extensions.install``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from node import db as node_db
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

    def __post_init__(self) -> None:
        # The same pool, with the BEGIN each kind of session uses on SQLite (node.db).
        self._write_engine = node_db.write_engine(self.engine)
        self._read_engine = node_db.read_engine(self.engine)

    def session(self) -> Session:
        """A new Session wired to this node's domain-event listeners."""
        session = self.sessionmaker()
        session.info["coopfed_listeners"] = self.listeners
        session.info["coopfed_node"] = self.ctx.domain
        return session

    def write_session_factory(self) -> Session:
        """A new Session whose transactions take SQLite's write lock up front (``BEGIN
        IMMEDIATE``: waits its turn instead of failing). Not committed for you: use it for
        factories (the delivery worker); prefer :meth:`write_session`. Raises
        :class:`node.db.NestedWriteError` when this thread already holds a write transaction."""
        return self._session_on(self._write_engine)

    def read_session_factory(self) -> Session:
        """A new Session for reading (deferred ``BEGIN``: never waits under WAL)."""
        return self._session_on(self._read_engine)

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A write session (see :meth:`write_session_factory`): committed when the block ends,
        rolled back if it raises, closed in both cases."""
        if node_db.write_transactions_open():
            raise node_db.NestedWriteError("a write session is already open in this thread")
        with self.write_session_factory() as session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise
            session.commit()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read session, closed when the block ends (never commits)."""
        with self.read_session_factory() as session:
            yield session

    def _session_on(self, bind: Engine) -> Session:
        session = self.sessionmaker(bind=bind)
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
