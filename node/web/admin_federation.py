"""Admin pages for federation: partnerships (pending/active, accept/reject/remove), domain and
actor blocks, delivery health. Every action is a POST with the CSRF token; services commit here.
Everything goes through the node's federation service (:mod:`node.ap.service`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from node.ap.service import ADMIN_ERRORS, NodeFederation
from node.web import admin_required, db, state
from profiles import moderation
from profiles.models import Partnership

bp = Blueprint("admin_federation", __name__, url_prefix="/admin/federation")


def fed() -> NodeFederation:
    return state().federation_service()


@bp.route("/")
@admin_required
def index() -> Any:
    session = db()
    partners = session.scalars(select(Partnership).order_by(Partnership.domain)).all()
    domains, actors = fed().blocks(session)
    return render_template(
        "admin_federation.html",
        pending=[p for p in partners if p.state == "pending"],
        others=[p for p in partners if p.state != "pending"],
        domains=domains,
        actors=actors,
        health=fed().health(),
    )


def _done(message: str) -> Any:
    flash(message)
    return redirect(url_for("admin_federation.index"))


@bp.route("/partners/<action>", methods=["POST"])
@admin_required
def partner(action: str) -> Any:
    session = db()
    domain = request.form.get("domain", "").strip()
    service = fed().coop
    if action == "remove" and request.form.get("confirm") != "1":
        return _confirm_remove(session, domain)
    try:
        if action == "request":
            service.request_partnership(session, fed().actors(session), domain)
        elif action == "accept":
            service.accept_partnership(session, domain)
        elif action == "reject":
            service.reject_partnership(session, domain)
        elif action == "remove":
            service.remove_partnership(session, domain)
        else:
            return _done(_("Unknown action."))
    except ADMIN_ERRORS as exc:
        session.rollback()
        return _done(_("Could not do that: %(error)s", error=str(exc)))
    session.commit()
    # One whole sentence per action: translators need the verb in context, not spliced in.
    messages = {
        "request": _("Partnership requested from %(domain)s.", domain=domain),
        "accept": _("Partnership with %(domain)s accepted.", domain=domain),
        "reject": _("Partnership request from %(domain)s rejected.", domain=domain),
        "remove": _("Partnership with %(domain)s removed.", domain=domain),
    }
    return _done(messages[action])


@bp.route("/blocks/<action>", methods=["POST"])
@admin_required
def blocks(action: str) -> Any:
    session = db()
    service = fed()
    value = request.form.get("value", "").strip()
    if not value:
        return _done(_("Give a domain or an actor IRI."))
    if action == "block_domain":
        return _block_domain(session, value, request.form.get("reason") or None)
    elif action == "unblock_domain":
        service.unblock_host(session, value)
    elif action == "block_actor":
        service.block_actor(session, value, request.form.get("reason") or None)
    elif action == "unblock_actor":
        service.unblock_actor(session, value)
    else:
        return _done(_("Unknown action."))
    session.commit()
    return _done(_("Saved."))


def _confirm_remove(session: Session, domain: str) -> Any:
    """Removing a partner purges what both sides received: say so, and ask first."""
    partner = session.scalar(select(Partnership).where(Partnership.domain == domain.lower()))
    if partner is None:
        return _done(_("Could not do that: %(error)s", error=domain))
    return render_template("admin_confirm.html", kind="remove", partner=partner, value=domain)


def _block_domain(session: Session, host: str, reason: str | None) -> Any:
    """Block a host and its subdomains. Blocking an active partner's domain (or a parent
    domain of one) happens only after a confirmation that says what follows: the partnership
    ends, its members and calls are hidden (and may be purged)."""
    partners = [
        p
        for p in session.scalars(
            select(Partnership).where(Partnership.state == "active").order_by(Partnership.domain)
        )
        if moderation.block_covers(host, p.domain)
    ]
    if partners and request.form.get("confirm") != "1":
        return render_template(
            "admin_confirm.html", kind="block", partner=partners[0], value=host, reason=reason or ""
        )
    fed().block_host(session, host, reason)
    if not partners:
        session.commit()
        return _done(_("Saved."))
    purged = 0
    for partner in partners:
        fed().coop.suspend_partnership(session, partner.domain)
        if request.form.get("purge"):
            purged += fed().coop.purge_host(session, partner.domain)
    session.commit()
    partner = partners[0]
    return _done(
        _(
            "%(domain)s is blocked and the partnership is suspended; %(num)d members and calls "
            "purged.",
            domain=partner.domain,
            num=purged,
        )
    )
