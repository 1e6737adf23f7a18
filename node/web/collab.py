"""Collaboration pages (issue 9): respond to a call, "My responses", the author's responses list
with decisions, and the conversation (thread) attached to a response or an invitation.

Invitations, notifications, the header count and email preferences are
:mod:`node.web.collab_notify`. The rules (who may respond, decide, read a thread; the state
machine; federation) are :mod:`profiles.collab`'s: views parse the form, call one service and
map its errors (ValidationError -> the form again, 422; PermissionDenied/NotFound/Conflict ->
the error pages). Everything here is private between the two parties: no page of this module is
public, and each checks the viewer through the service.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape

from node import reasons
from node.collab_mail import STATE_NAMES
from node.i18n import current_language
from node.web import current_member, db, login_required, state, vocab
from profiles import calls as call_service
from profiles import collab, visibility
from profiles.collab.responses import live_response
from profiles.errors import ValidationError
from profiles.models import Call, Member

bp = Blueprint("collab", __name__)

MAX_MESSAGE = 4000
MAX_DECISION = 2000
MAX_BODY = 5000
MAX_RATE = 200
MAX_CONTACT = 500
MAX_LINKS = 5
DECISIONS = ("shortlisted", "accepted", "declined")


def _me() -> Member:
    me = current_member()
    assert me is not None  # login_required
    return me


def _visible_call(public_id: str) -> Call:
    found = call_service.get_by_public_id(db(), public_id)  # NotFound -> 404
    if not call_service.can_view(found, current_member()):
        abort(404)
    return found


# -- the call page's collaboration box ----------------------------------------------------------


def _available_for(member: Member, call: Call) -> bool:
    """Pre-tick "available for the call's dates" when the profile says so (or has no dates)."""
    if not call.starts or not call.ends or not member.availability:
        return True
    return any(a.start <= call.ends and a.end >= call.starts for a in member.availability)


@bp.app_template_global()
def call_collab(call: Call) -> dict[str, Any] | None:
    """What ``_collab.html`` shows on a call's page for the signed-in member: their response or
    the Respond button, the author's count of responses, and the team (team members only)."""
    me = current_member()
    if me is None:
        return None
    session = db()
    is_author = call.author_id == me.id
    mine = None if is_author else live_response(session, call, me.ap_id)
    may_edit = visibility.may_edit_call(call, me)
    return {
        "is_author": may_edit,
        "mine": mine,
        "may_respond": not is_author and mine is None and call.status == "open" and me.local,
        "responses": len(collab.responses_for_call(session, call, me)) if may_edit else 0,
        "team": collab.team(session, call, me),
    }


# -- responding ---------------------------------------------------------------------------------


def _call_skills(call: Call) -> list[tuple[str, str, bool]]:
    """(iri, label, required) of the call's skills in the UI language."""
    v, lang = vocab(), current_language()
    out = [(iri, v.label(iri, lang), True) for iri in call.required_skills]
    return out + [(iri, v.label(iri, lang), False) for iri in call.optional_skills]


def _initial(call: Call, me: Member) -> dict[str, Any]:
    mine = {c.concept_iri for c in me.skills}
    wanted = set(call.required_skills) | set(call.optional_skills)
    links = [link.url for link in sorted(me.links, key=lambda x: x.position)][:MAX_LINKS]
    return {
        "message": "",
        "skills": sorted(mine & wanted),
        "available": _available_for(me, call),
        "available_note": "",
        "rate": "",
        "links": links,
        "team_contact": "",
        "consent": False,
    }


def _parse(form: Any, call: Call) -> tuple[dict[str, Any], dict[str, str]]:
    """The form as typed, and the errors (translated) the page shows next to each field."""
    wanted = set(call.required_skills) | set(call.optional_skills)
    raw = {
        "message": form.get("message", "").strip(),
        "skills": [s for s in form.getlist("skills") if s in wanted],
        "available": bool(form.get("available")),
        "available_note": form.get("available_note", "").strip()[:200],
        "rate": form.get("rate", "").strip(),
        "links": [u.strip() for u in form.getlist("links") if u.strip()],
        "team_contact": form.get("team_contact", "").strip(),
        "consent": bool(form.get("consent")),
    }
    errors: dict[str, str] = {}
    if not raw["message"]:
        errors["message"] = _("Write a few words to the author.")
    elif len(raw["message"]) > MAX_MESSAGE:
        errors["message"] = _("At most %(n)s characters.", n=MAX_MESSAGE)
    if len(raw["rate"]) > MAX_RATE:
        errors["rate"] = _("At most %(n)s characters.", n=MAX_RATE)
    if len(raw["team_contact"]) > MAX_CONTACT:
        errors["team_contact"] = _("At most %(n)s characters.", n=MAX_CONTACT)
    if len(raw["links"]) > MAX_LINKS:
        errors["links"] = _("At most %(n)s links.", n=MAX_LINKS)
    elif any(not u.startswith("https://") or " " in u for u in raw["links"]):
        errors["links"] = _("Links must start with https://")
    return raw, errors


def _response_data(raw: dict[str, Any]) -> collab.ResponseData:
    # A pending invitation of this member to this call is linked by the service.
    return collab.ResponseData(
        message=raw["message"],
        skills=list(raw["skills"]),
        available=raw["available"],
        available_note=raw["available_note"],
        rate=raw["rate"],
        links=list(raw["links"]),
        team_contact=raw["team_contact"],
        consent=raw["consent"],
    )


def _render_respond(call: Call, raw: dict[str, Any], errors: dict[str, str], status: int) -> Any:
    me = _me()
    page = render_template(
        "collab_respond.html",
        call=call,
        raw=raw,
        errors=errors,
        skills=_call_skills(call),
        needs_consent=collab.needs_consent(db(), call, me),
        coop=call.author.coop_name or call.node,
        max_links=MAX_LINKS,
    )
    return page, status


@bp.route("/calls/<public_id>/respond", methods=["GET", "POST"])
@login_required
def respond(public_id: str) -> Any:
    call = _visible_call(public_id)
    me = _me()
    session = db()
    existing = live_response(session, call, me.ap_id)
    if existing is not None:
        flash(_("You have already responded to this call."))
        return redirect(url_for("collab.thread", response_id=existing.id))
    if call.author_id == me.id:
        abort(403)
    if call.status != "open":
        flash(_("This call is closed: it takes no more responses."))
        return redirect(url_for("calls.call", public_id=public_id))
    if request.method == "GET":
        return _render_respond(call, _initial(call, me), {}, 200)
    raw, errors = _parse(request.form, call)
    if collab.needs_consent(session, call, me) and not raw["consent"]:
        errors["consent"] = _(
            "Tick the box to share your profile with this coop, or do not respond."
        )
    if errors:
        return _render_respond(call, raw, errors, 422)
    try:
        response = collab.respond(session, call, me, _response_data(raw))
    except ValidationError as exc:
        session.rollback()
        return _render_respond(call, raw, dict(exc.errors), 422)
    session.commit()
    flash(_("Your response is sent. The author will be notified."))
    return redirect(url_for("collab.thread", response_id=response.id))


@bp.route("/responses")
@login_required
def my_responses() -> Any:
    found = collab.responses_of(db(), _me())
    return render_template("collab_my_responses.html", responses=found)


@bp.route("/responses/<int:response_id>/withdraw", methods=["POST"])
@login_required
def withdraw(response_id: int) -> Any:
    session = db()
    response = collab.get_response(session, response_id, _me())  # NotFound -> 404
    collab.withdraw(session, response, _me())  # PermissionDenied -> 403
    session.commit()
    flash(_("Your response is withdrawn."))
    return redirect(url_for("collab.my_responses"))


# -- the author's side --------------------------------------------------------------------------


def _reasons_for(call: Call, responses: list[Any]) -> dict[int, list[str]]:
    """The match reasons of each coopfed responder, worded as the suggestions word them."""
    members = [r.responder for r in responses if r.responder is not None]
    if not members:
        return {}
    found = state().match_service().explain(db(), call, members)
    v, lang = vocab(), current_language()
    out: dict[int, list[str]] = {}
    for r in responses:
        suggestion = found.get(r.responder.ap_id) if r.responder is not None else None
        if suggestion is not None:
            out[r.id] = reasons.render(suggestion.reasons, v, lang, "candidate")
    return out


@bp.route("/calls/<public_id>/responses")
@login_required
def call_responses(public_id: str) -> Any:
    call = _visible_call(public_id)
    me = _me()
    session = db()
    found = collab.responses_for_call(session, call, me)  # PermissionDenied -> 403
    for response in found:
        if response.state == "sent":
            collab.mark_seen(session, response, me)
    session.commit()
    v, lang = vocab(), current_language()
    return render_template(
        "collab_call_responses.html",
        call=call,
        responses=found,
        why=_reasons_for(call, found),
        skill_labels={iri: v.label(iri, lang) for r in found for iri in r.skills},
        accepted=sum(1 for r in found if r.state == "accepted"),
    )


@bp.route("/calls/<public_id>/team-settings", methods=["POST"])
@login_required
def team_settings(public_id: str) -> Any:
    """The author's contact shared with the accepted team, and whether fediverse replies to
    the call count as responses."""
    call = _visible_call(public_id)
    session = db()
    contact = request.form.get("author_contact", "").strip()
    if len(contact) > MAX_CONTACT:
        flash(_("At most %(n)s characters.", n=MAX_CONTACT))
        return redirect(url_for("collab.call_responses", public_id=public_id))
    collab.set_call_options(  # PermissionDenied -> 403
        session,
        call,
        _me(),
        author_contact=contact,
        allow_fediverse_responses=bool(request.form.get("allow_fediverse_responses")),
    )
    session.commit()
    flash(_("Saved."))
    return redirect(url_for("collab.call_responses", public_id=public_id))


@bp.route("/responses/<int:response_id>/decide", methods=["POST"])
@login_required
def decide(response_id: int) -> Any:
    session = db()
    response = collab.get_response(session, response_id, _me())
    decision = request.form.get("decision", "")
    if decision not in DECISIONS:
        abort(400)
    message = request.form.get("message", "").strip()[:MAX_DECISION]
    collab.decide(session, response, _me(), decision, message)  # PermissionDenied -> 403
    session.commit()
    flash(
        {
            "shortlisted": _("Shortlisted. The responder is told."),
            "accepted": _("Accepted. The responder is told and joins the team."),
            "declined": _("Declined. The responder is told."),
        }[decision]
    )
    target = request.form.get("back") == "thread"
    if target:
        return redirect(url_for("collab.thread", response_id=response.id))
    return redirect(url_for("collab.call_responses", public_id=response.call.public_id))


# -- threads ------------------------------------------------------------------------------------


def _names(thread: Any, *parties: Any) -> dict[str, str]:
    """Display names of a thread's two actors (a fediverse responder by the cached name)."""
    names: dict[str, str] = {}
    if getattr(thread, "responder_name", ""):
        names[thread.responder_actor] = thread.responder_name
    for m in parties:
        if m is not None:
            names[m.ap_id] = m.name or m.username
    return names


def _thread_page(thread: Any, kind: str, status: int = 200, error: str = "", body: str = "") -> Any:
    me = _me()
    session = db()
    found = collab.thread_messages(session, thread, me)  # PermissionDenied -> 403
    collab.mark_thread_read(session, thread, me)
    if kind == "response" and thread.state == "sent" and visibility.may_edit_call(thread.call, me):
        collab.mark_seen(session, thread, me)  # the author opened it: the responder is told
    session.commit()
    if kind == "response":
        call, other_parties = thread.call, (thread.responder, thread.call.author)
    else:
        call, other_parties = thread.call, (thread.invitee, thread.inviter)
    why: list[str] = []
    if kind == "response" and call.author_id == me.id:
        why = _reasons_for(call, [thread]).get(thread.id, [])
    v, lang = vocab(), current_language()
    page = render_template(
        "collab_thread.html",
        kind=kind,
        thread=thread,
        call=call,
        messages=found,
        names=_names(thread, *other_parties),
        is_author=call.author_id == me.id,
        why=why,
        skill_labels={iri: v.label(iri, lang) for iri in getattr(thread, "skills", [])},
        error=error,
        body=body,
        max_body=MAX_BODY,
    )
    return page, status


def _post_message(thread: Any, kind: str, target: str) -> Any:
    body = request.form.get("body", "").strip()
    if not body:
        return _thread_page(thread, kind, 422, _("Write a message first."), body)
    if len(body) > MAX_BODY:
        return _thread_page(thread, kind, 422, _("At most %(n)s characters.", n=MAX_BODY), body)
    session = db()
    try:
        collab.send_message(session, thread, _me(), body)  # PermissionDenied -> 403
    except ValidationError as exc:
        session.rollback()
        return _thread_page(thread, kind, 422, "; ".join(exc.errors.values()), body)
    session.commit()
    flash(_("Your message is sent."))
    return redirect(target + "#messages")


@bp.route("/responses/<int:response_id>", methods=["GET", "POST"])
@login_required
def thread(response_id: int) -> Any:
    response = collab.get_response(db(), response_id, _me())
    if request.method == "POST":
        return _post_message(
            response, "response", url_for("collab.thread", response_id=response_id)
        )
    return _thread_page(response, "response")


@bp.route("/invitations/<int:invitation_id>", methods=["GET", "POST"])
@login_required
def invitation_thread(invitation_id: int) -> Any:
    invitation = collab.get_invitation(db(), invitation_id, _me())
    if request.method == "POST":
        target = url_for("collab.invitation_thread", invitation_id=invitation_id)
        return _post_message(invitation, "invitation", target)
    return _thread_page(invitation, "invitation")


@bp.app_template_filter("dates_of")
def dates_of(call: Call) -> str:
    """ "12 Mar 2027 – 30 Apr 2027" for the form's availability box ("" without dates)."""
    from flask_babel import format_date

    def one(d: date | None) -> str:
        return format_date(d, "medium") if d else "…"

    if not call.starts and not call.ends:
        return ""
    return f"{one(call.starts)} – {one(call.ends)}"


_URL = re.compile(r"https://[^\s<>\"']+")


@bp.app_template_filter("linkify")
def linkify(text: str | None) -> Markup:
    """Plain text as HTML: escaped, line breaks kept, https links made clickable (nofollow)."""
    out = []
    for line in (text or "").splitlines():
        pos, parts = 0, []
        for found in _URL.finditer(line):
            url = found.group(0).rstrip(".,;:!?)")
            start, end = found.start(), found.start() + len(url)
            parts.append(escape(line[pos:start]))
            parts.append(Markup('<a href="{0}" rel="nofollow noopener ugc">{0}</a>').format(url))
            pos = end
        parts.append(escape(line[pos:]))
        out.append(Markup("").join(parts))
    return Markup("<br>\n").join(out)


@bp.app_template_global()
def response_state(value: str) -> str:
    return str(STATE_NAMES.get(value, value))


@bp.app_template_global()
def invitation_state(value: str) -> str:
    return {
        "pending": _("waiting for an answer"),
        "responded": _("responded"),
        "declined": _("declined"),
        "cancelled": _("cancelled"),
    }.get(value, value)
