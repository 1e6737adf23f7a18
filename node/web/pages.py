"""What several pages share: template globals (labels and names in the UI language, URLs of
members and avatars, paging, "may edit"), the concept pickers and search, paging arithmetic.

The template globals hang off a route-less blueprint so that they are registered with the pages.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, request, url_for
from sqlalchemy import func, select

from node.i18n import current_language
from node.web import current_member, db, forms, vocab
from profiles import visibility
from profiles.models import Call, Member

bp = Blueprint("pages", __name__)

PER_PAGE = 20
FIND_LIMIT = 8


# --- template globals ----------------------------------------------------------------------------


@bp.app_template_global()
def concept_label(iri: str) -> str:
    return vocab().label(iri, current_language())


@bp.app_template_global()
def country_name(code: str) -> str:
    return forms.country_name(code, current_language())


@bp.app_template_global()
def language_name(code: str) -> str:
    return forms.language_name(code, current_language())


@bp.app_template_global()
def avatar_url(member: Member) -> str | None:
    if not member.avatar:
        return None
    if member.avatar.startswith(("https://", "http://")):
        return None  # never hot-linked: shown once the worker has fetched our own copy
    return url_for("members.avatar", name=member.avatar)


@bp.app_template_global()
def member_url(member: Member) -> str:
    return url_for("members.member", username=member.username if member.local else member.handle)


@bp.app_template_global()
def page_url(page: int) -> str:
    """The current page's URL with another ``page`` parameter (filters kept)."""
    args = request.args.copy()
    args["page"] = str(page)
    return url_for(request.endpoint or "home.home", **request.view_args or {}, **args)


def author_visible(call: Call) -> bool:
    """May the current viewer learn who wrote ``call``? (:func:`profiles.visibility.
    author_shown`; else pages, API and feeds say "a member of <coop>".)"""
    author = call.author
    audience = visibility.viewer_audience(current_member())
    return visibility.author_shown(author.visibility, local=author.local, audience=audience)


@bp.app_template_global()
def author_shown(call: Call) -> bool:
    return author_visible(call)


@bp.app_template_global()
def may_edit_call(call: Call) -> bool:
    return visibility.may_edit_call(call, current_member())


# --- helpers of the views ------------------------------------------------------------------------


def pages(total: int, per_page: int = PER_PAGE) -> int:
    return max(1, math.ceil(total / per_page))


def avatar_folder() -> Path:
    return Path(current_app.instance_path) / "avatars"


def coops() -> list[tuple[str, str]]:
    """(node domain, coop name) of every coop we know members of: filter choices."""
    rows = db().execute(select(Member.node, func.max(Member.coop_name)).group_by(Member.node)).all()
    return sorted(((n, c or n) for n, c in rows), key=lambda p: p[1].casefold())


def picker(
    stored: list[str], posted: list[str], found: list[forms.Choice] | None, lang: str
) -> dict[str, Any]:
    """A concept picker's state: known concepts (checked = kept) plus search suggestions."""
    voc = vocab()
    shown = list(dict.fromkeys([*posted, *stored]))
    choices = forms.concept_choices(voc, [i for i in shown if len(i) < 256], lang)
    for choice in choices:
        choice.checked = choice.iri in posted
    return {"choices": choices, "found": found}


def find(text: str, kind: str, exclude: list[str], lang: str) -> list[forms.Choice]:
    """Concepts of ``kind`` matching free text, as unchecked choices (``exclude``: chosen)."""
    if not text.strip():
        return []
    found = vocab().linker.link(text, lang=lang, kind=kind, limit=FIND_LIMIT)
    return forms.suggestion_choices(vocab(), found, lang, exclude)
