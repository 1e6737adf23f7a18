"""Admin pages for federation: partnerships (pending/active, accept/reject/remove), domain and
actor blocks, delivery health. Every action is a POST with the CSRF token; services commit here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from federation.errors import FederationError
from federation.models import ActorBlock, DomainPolicyEntry
from federation.policy import DomainPolicy
from node.views.ap import fed
from node.web import admin_required, db
from profiles.errors import DomainError
from profiles.models import Partnership

bp = Blueprint("admin_federation", __name__, url_prefix="/admin/federation")


@bp.route("/")
@admin_required
def index() -> Any:
    session = db()
    partners = session.scalars(select(Partnership).order_by(Partnership.domain)).all()
    return render_template(
        "admin_federation.html",
        pending=[p for p in partners if p.state == "pending"],
        others=[p for p in partners if p.state != "pending"],
        domains=session.scalars(select(DomainPolicyEntry).order_by(DomainPolicyEntry.host)).all(),
        actors=session.scalars(select(ActorBlock).order_by(ActorBlock.actor)).all(),
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
    service = fed().domain
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
    except (FederationError, DomainError) as exc:
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
    policy = DomainPolicy(session)
    value = request.form.get("value", "").strip()
    if not value:
        return _done(_("Give a domain or an actor IRI."))
    if action == "block_domain":
        policy.block_host(value, request.form.get("reason") or None)
    elif action == "unblock_domain":
        policy.unblock_host(value)
    elif action == "block_actor":
        policy.block_actor(value, request.form.get("reason") or None)
    elif action == "unblock_actor":
        policy.unblock_actor(value)
    else:
        return _done(_("Unknown action."))
    session.commit()
    return _done(_("Saved."))
