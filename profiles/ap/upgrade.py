"""Bring activities already in the outbox up to what the node sends today.

Outbox rows are stored signed, and served as stored (the outbox collections) or delivered as
stored (deliveries still pending or retried). Rows written before issue 8 carry what strict
peers refuse: bare dates for ``xsd:dateTime`` terms (Fedify answers 400), an ``@context``
without the coop's extension terms (processors drop ``inLanguage``, ``occupation``…),
``formerType: "Page"`` (a relative IRI once expanded) and FEP-8b32 proofs made without the
document's ``@context`` (they do not verify in Fedify). :func:`upgrade_body` fixes a body;
:class:`OutboxUpgrade` rewrites every row that needs it and signs it again with its actor's
current Ed25519 key — through :class:`~profiles.ap.keys.KeyStore`, which holds the keys. A row
whose actor has no key any more (a deleted member) loses its proof rather than keep a broken
one.

It runs once per :data:`OUTBOX_FORMAT`: from ``coopfed db upgrade`` to the end, and as a worker
job (batch by batch, resumable: the last row done is kept in ``node_meta``) for nodes upgraded
by restarting. Bump :data:`OUTBOX_FORMAT` when what we send changes in a way stored rows must
follow, and teach :func:`upgrade_body` the change.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from federation import proofs, vocab
from federation.errors import SignatureInvalid
from federation.keys import ed25519_public_of
from federation.models import OutboxActivity
from profiles.ap.context import COOPFED_CONTEXT
from profiles.ap.keys import KeyStore
from profiles.models import NodeMeta

OUTBOX_FORMAT = 2  # 1: before issue 8; 2: RFC 3339 dates, defined terms, as:Type, proofs
FORMAT_KEY = "fed_outbox_format"
CURSOR_KEY = "fed_outbox_format_cursor"
BATCH = 200

_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Terms typed xsd:dateTime in what we send (AS2's and ours).
_DATETIME_TERMS = ("startTime", "endTime", "deadline", "published", "updated", "deleted")
_CONTEXT_URLS = (vocab.AS_CONTEXT, vocab.SECURITY_CONTEXT)


def _fix_object(obj: dict[str, Any]) -> bool:
    """Fix one embedded object in place; True if anything changed."""
    changed = False
    for term in _DATETIME_TERMS:
        value = obj.get(term)
        if isinstance(value, str) and _BARE_DATE.match(value):
            obj[term] = f"{value}T00:00:00Z"  # a call's day, as documents.page sends it now
            changed = True
    former = obj.get("formerType")
    if obj.get("type") == "Tombstone" and isinstance(former, str) and ":" not in former:
        obj["formerType"] = vocab.former_type(former)
        changed = True
    return changed


def _fix_context(body: dict[str, Any], *, needs_terms: bool) -> bool:
    """The coop's current term dict in place of the stored one (or added when ``needs_terms``:
    an activity carrying a Page or a Person); the context URLs are kept."""
    contexts = vocab.as_list(body.get("@context"))
    terms = [c for c in contexts if isinstance(c, dict)]
    if not terms and not needs_terms:
        return False
    if terms == [COOPFED_CONTEXT]:
        return False
    kept = [c for c in contexts if not isinstance(c, dict)]
    at = max((i + 1 for i, c in enumerate(kept) if c in _CONTEXT_URLS), default=len(kept))
    body["@context"] = [*kept[:at], COOPFED_CONTEXT, *kept[at:]]
    return True


def upgrade_body(body: dict[str, Any]) -> bool:
    """Fix ``body`` (an activity as stored, proof included) in place; True if its content
    changed (its proof then no longer holds)."""
    obj = body.get("object")
    carries = isinstance(obj, dict) and obj.get("type") in ("Page", "Person")
    changed = _fix_context(body, needs_terms=carries)
    if isinstance(obj, dict):
        # An embedded Page carries its own @context (documents.page): fixed the same way.
        if "@context" in obj:
            changed = _fix_context(obj, needs_terms=False) or changed
        changed = _fix_object(obj) or changed
    return _fix_object(body) or changed


class OutboxUpgrade:
    """Rewrites a node's outbox rows to :data:`OUTBOX_FORMAT` (see the module docstring)."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self._done = False  # per process, once the stored format is current

    def pending(self, session: Session) -> bool:
        if self._done:
            return False
        row = session.get(NodeMeta, FORMAT_KEY)
        current = row is not None and row.value.isdigit() and int(row.value) >= OUTBOX_FORMAT
        self._done = current
        return not current

    def run_batch(self, session: Session, batch: int = BATCH) -> int:
        """Upgrade the next ``batch`` rows; returns how many were rewritten. When no row is
        left, records the format as current. The caller commits."""
        if not self.pending(session):
            return 0
        cursor = session.get(NodeMeta, CURSOR_KEY)
        after = int(cursor.value) if cursor is not None and cursor.value.isdigit() else 0
        rows = session.scalars(
            select(OutboxActivity)
            .where(OutboxActivity.id > after)
            .order_by(OutboxActivity.id)
            .limit(batch)
        ).all()
        rewritten = sum(1 for row in rows if self._upgrade(session, row))
        if rows:
            self._set(session, CURSOR_KEY, str(rows[-1].id))
        else:
            self._set(session, FORMAT_KEY, str(OUTBOX_FORMAT))
            self._set(session, CURSOR_KEY, "0")
            self._done = True
        session.flush()
        return rewritten

    def run_all(self, session: Session) -> int:
        """Every row, committing after each batch; returns how many were rewritten."""
        total = 0
        while self.pending(session):
            total += self.run_batch(session)
            session.commit()
        return total

    def _upgrade(self, session: Session, row: OutboxActivity) -> bool:
        body = json.loads(row.body)
        changed = upgrade_body(body)
        if not changed and "proof" in body and self._proof_holds(session, body):
            return False
        if not changed and "proof" not in body:
            return False
        body.pop("proof", None)
        body.pop("signature", None)
        # Re-proven with the actor's key; unchanged (no proof) when the actor has none now.
        body = self.keys.prove(session, body)
        row.body = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        return True

    def _proof_holds(self, session: Session, body: dict[str, Any]) -> bool:
        """Does the stored proof verify? One made before issue 8 (no ``@context`` in the proof)
        never does; one whose actor has no key any more (a deleted member's pending Delete)
        cannot be checked and is kept as made."""
        proof = body.get("proof")
        if not isinstance(proof, dict) or "@context" not in proof:
            return False
        actor = body.get("actor")
        key = self.keys.proof_key(session, actor) if isinstance(actor, str) else None
        if key is None:
            return True
        try:
            proofs.check_proof_value(body, ed25519_public_of(key[1]))
        except SignatureInvalid:
            return False
        return True

    def _set(self, session: Session, key: str, value: str) -> None:
        row = session.get(NodeMeta, key)
        if row is None:
            session.add(NodeMeta(key=key, value=value))
        else:
            row.value = value


__all__ = ["OUTBOX_FORMAT", "OutboxUpgrade", "upgrade_body"]
