"""Atom and RSS feeds of the public open calls (for feed readers and job boards), rendered from
``templates/feeds/``. Only what the public may see: :func:`profiles.visibility.served_levels`.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime

from flask import Blueprint, Response, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from federation.db import utcnow
from node.web import db
from profiles import visibility
from profiles.models import Call

bp = Blueprint("ap_feeds", __name__)

FEED_LIMIT = 50


def _feed_calls() -> list[Call]:
    public = visibility.served_levels(visibility.Audience.PUBLIC)
    return list(
        db()
        .scalars(
            select(Call)
            .where(Call.local, Call.visibility.in_(public), Call.status == "open")
            .options(selectinload(Call.author))
            .order_by(Call.created_at.desc(), Call.id.desc())
            .limit(FEED_LIMIT)
        )
        .all()
    )


def _named(call: Call) -> bool:
    """Feeds are public documents (cached, shared), whoever fetches them: an author is named
    only if the public may see them."""
    author = call.author
    return visibility.author_shown(
        author.visibility, local=author.local, audience=visibility.Audience.PUBLIC
    )


def _iso(value: datetime) -> str:
    """RFC 3339 in UTC, as Atom wants it."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc822(value: datetime) -> str:
    """RFC 822 dates, as RSS 2.0 wants them."""
    return format_datetime(value, usegmt=True)


@bp.route("/calls.atom")
def calls_atom() -> Response:
    calls = _feed_calls()
    updated = calls[0].updated_at if calls else utcnow()
    body = render_template(
        "feeds/calls.atom.xml", calls=calls, updated=updated, iso=_iso, named=_named
    )
    return Response(body, content_type="application/atom+xml; charset=utf-8")


@bp.route("/calls.rss")
def calls_rss() -> Response:
    body = render_template("feeds/calls.rss.xml", calls=_feed_calls(), rfc822=_rfc822)
    return Response(body, content_type="application/rss+xml; charset=utf-8")
