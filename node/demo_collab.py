"""`coopfed demo`: a few responses and a conversation, seeded through the same services the
pages use (issue 9), so the demo shows the collaboration loop from the first click.

- on Smart Sweden, erik_nilsson responds to karin_lind's dance-tour call, karin shortlists him
  and they exchange two messages (one node);
- across nodes, lena_huber (Smart Austria) responds to the same call from her node's copy of it,
  and karin accepts her: the Offer, the Accept and the messages travel over ActivityPub (the
  demo waits up to a minute for each step, and says so if a step did not arrive);
- a few members opt in to every notification email, so each node's mail folder
  (``demo-data/<node>/mail``) has .eml files to open.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy import select

from profiles import collab
from profiles import mail as mail_prefs
from profiles.collab.models import Response
from profiles.members import get_local
from profiles.models import Call

KARIN_CALL = "Ljus, ljud och tyska övertexter för dansturné"
OPTED_IN = {"se": ("karin_lind", "erik_nilsson"), "at": ("lena_huber",)}
WAIT_SECONDS = 60.0


def _wait(find: Callable[[], Any], seconds: float = WAIT_SECONDS) -> Any:
    """Poll ``find`` until it returns something (federation delivers in the background)."""
    deadline = time.monotonic() + seconds
    while True:
        found = find()
        if found is not None or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def _call(session: Any, title: str) -> Call | None:
    return session.scalar(select(Call).where(Call.title == title))


def opt_in(state: Any, usernames: tuple[str, ...]) -> None:
    with state.session() as s:
        for username in usernames:
            member = get_local(s, state.ctx, username)
            for kind in mail_prefs.NOTIFICATION_KINDS:
                mail_prefs.set_preference(s, member.id, kind, True)
        s.commit()


def seed_local(se: Any) -> None:
    """erik_nilsson responds to karin_lind's call; shortlisted; two messages."""
    with se.session() as s:
        call = _call(s, KARIN_CALL)
        karin = get_local(s, se.ctx, "karin_lind")
        erik = get_local(s, se.ctx, "erik_nilsson")
        if call is None:
            return
        skills = [sk.concept_iri for sk in call.skills][:1]
        response = collab.respond(
            s,
            call,
            erik,
            collab.ResponseData(
                message="Hej Karin! Jag har mixat ljud för dansföreställningar i tio år "
                "och kan turnera hela våren. Showreel: https://example.org/erik-reel",
                skills=skills,
                available=True,
                rate="4 500 kr per dag",
                links=["https://example.org/erik-reel"],
                team_contact="erik.nilsson@example.org, 070-123 45 67",
            ),
        )
        s.commit()
        collab.mark_seen(s, response, karin)
        collab.decide(s, response, karin, "shortlisted", "Låter bra – kan vi prata på torsdag?")
        collab.send_message(s, response, karin, "Passar torsdag kl. 10 för ett samtal?")
        collab.send_message(s, response, erik, "Ja, torsdag kl. 10 passar bra. Hörs då!")
        s.commit()


def _respond_from_at(at: Any, copy: int) -> str:
    with at.session() as s:
        call = s.get(Call, copy)
        lena = get_local(s, at.ctx, "lena_huber")
        assert call is not None
        response = collab.respond(
            s,
            call,
            lena,
            collab.ResponseData(
                message="Hallo Karin, ich mache seit zwölf Jahren Lichtdesign für Tanz und "
                "kann im März und April mit auf Tour. Mein Portfolio: https://example.org/lena",
                skills=[sk.concept_iri for sk in call.skills][:1],
                available=True,
                links=["https://example.org/lena"],
                team_contact="lena.huber@example.org",
            ),
        )
        s.commit()
        return response.ap_id


def _accept_on_se(se: Any, response_id: int) -> None:
    with se.session() as s:
        found = s.get(Response, response_id)
        karin = get_local(s, se.ctx, "karin_lind")
        assert found is not None
        collab.mark_seen(s, found, karin)
        collab.decide(s, found, karin, "accepted", "Välkommen i teamet, Lena!")
        collab.send_message(s, found, karin, "Repetitionerna börjar 1 mars i Malmö.")
        s.commit()


def seed_across(at: Any, se: Any) -> str:
    """lena_huber (AT) responds to karin's call (SE) and karin accepts; returns what happened."""
    from node.demo import _retry

    copy = _wait(lambda: _find_call(at, KARIN_CALL))
    if copy is None:
        return "the Swedish call did not reach Smart Austria in time: no cross-node response"
    ap_id = _retry(lambda: _respond_from_at(at, copy))
    arrived = _wait(lambda: _find_response(se, ap_id))
    if arrived is None:
        return "lena_huber's response did not reach Smart Sweden in time"
    _retry(lambda: _accept_on_se(se, arrived))
    return "lena_huber (Smart Austria) responded to karin_lind's call and was accepted"


def _find_call(state: Any, title: str) -> int | None:
    with state.session() as s:
        found = _call(s, title)
        return found.id if found is not None else None


def _find_response(state: Any, ap_id: str) -> int | None:
    with state.session() as s:
        return s.scalar(select(Response.id).where(Response.ap_id == ap_id))


def seed(nodes: list[Any]) -> None:
    """Seed the demo's collaboration (``nodes``: the demo's DemoNode list)."""
    from node.demo import _retry  # SQLite and the running workers: retry a locked write

    states = {n.key: n.state for n in nodes}
    for key, usernames in OPTED_IN.items():
        if key in states:
            _retry(lambda key=key, usernames=usernames: opt_in(states[key], usernames))
    if "se" in states:
        _retry(lambda: seed_local(states["se"]))
        click.echo("collaboration: erik_nilsson responded to karin_lind's call (Smart Sweden)")
    if "at" in states and "se" in states:
        click.echo(f"collaboration: {seed_across(states['at'], states['se'])}")
