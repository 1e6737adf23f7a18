"""Atom and RSS feeds of the public open calls (for feed readers and job boards), rendered from
``templates/feeds/``. Only what the public may see: :func:`profiles.visibility.served_levels`.

``?skill=`` (a concept IRI), ``?country=`` and ``?language=`` (a working language) filter like
the calls page; ``?lang=`` picks the language of the skill names and the field labels (else the
UI language the request negotiates). Each entry carries its skills, place, dates and deadline,
as categories and as a short facts block before the description.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from flask import Blueprint, Response, render_template, request
from flask_babel import format_date
from flask_babel import gettext as _
from markupsafe import escape

from federation.db import utcnow
from node.i18n import current_language
from node.web import db, vocab
from node.web.calls import feed_filters
from node.web.forms import country_name
from profiles import calls as call_service
from profiles import visibility
from profiles.models import Call

bp = Blueprint("ap_feeds", __name__)

FEED_LIMIT = 50


@dataclass
class FeedEntry:
    call: Call
    skills: list[tuple[str, str]]  # (iri, label in the feed's language)
    facts: list[tuple[str, str]]  # (field label, value), translated

    @property
    def html(self) -> str:
        """The facts as a definition list, then the (sanitised) description: HTML the
        template escapes once more, as Atom ``type="html"`` and RSS descriptions want."""
        rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in self.facts)
        return (f"<dl>{rows}</dl>" if rows else "") + self.call.description


def _place(call: Call, lang: str) -> str:
    parts = [_("Remote")] if call.remote else []
    where = ", ".join(p for p in (call.city, country_name(call.country, lang)) if p)
    return " · ".join([*parts, where] if where else parts)


def _facts(call: Call, lang: str) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    place = _place(call, lang)
    if place:
        facts.append((_("Place"), place))
    if call.starts or call.ends:
        when = [format_date(d, "medium") if d else "…" for d in (call.starts, call.ends)]
        facts.append((_("When"), " – ".join(when)))
    if call.deadline:
        facts.append((_("Apply by"), format_date(call.deadline, "medium")))
    return facts


def _feed_entries() -> list[FeedEntry]:
    wanted = feed_filters(request.args.to_dict())
    query = call_service.CallQuery(
        skill=wanted.get("skill"),
        country=wanted.get("country"),
        language=wanted.get("language"),
        local=True,
        per_page=FEED_LIMIT,
    )
    found, _total = call_service.list_calls(db(), None, query)
    lang, names = current_language(), vocab()
    entries = []
    for call in found:
        skills = names.labels(call.required_skills, lang) + names.labels(call.optional_skills, lang)
        facts = _facts(call, lang)
        if skills:
            facts.append((_("Skills"), ", ".join(label for _iri, label in skills)))
        entries.append(FeedEntry(call, skills, facts))
    return entries


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


def _render(template: str, **extra: object) -> str:
    entries = _feed_entries()
    return render_template(
        template,
        entries=entries,
        updated=entries[0].call.updated_at if entries else utcnow(),
        filters=feed_filters(request.args.to_dict()),
        feed_lang=current_language(),
        **extra,
    )


@bp.route("/calls.atom")
def calls_atom() -> Response:
    body = _render("feeds/calls.atom.xml", iso=_iso, named=_named)
    return Response(body, content_type="application/atom+xml; charset=utf-8")


@bp.route("/calls.rss")
def calls_rss() -> Response:
    body = _render("feeds/calls.rss.xml", rfc822=_rfc822)
    return Response(body, content_type="application/rss+xml; charset=utf-8")
