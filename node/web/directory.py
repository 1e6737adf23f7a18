"""The member directory: filters by skill, occupation (typed text linked to concepts, or an
IRI), country, language, availability, coop and free text; only members the viewer may see
(:func:`profiles.members.search_directory`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from node.i18n import current_language
from node.web import current_member, db, forms, vocab
from node.web.pages import PER_PAGE, coops, find, pages
from profiles import members as member_service

bp = Blueprint("directory", __name__)


def _concept_filter(param: str, kind: str, lang: str) -> tuple[str | None, str, list[forms.Choice]]:
    """A directory concept filter: ``<param>=IRI``, or ``<param>_q=text`` linked to concepts.

    Returns (chosen IRI, typed text, radio choices). The best match is used until the member
    picks another one."""
    iri = request.args.get(param, "").strip() or None
    text = request.args.get(param + "_q", "").strip()[:200]
    choices: list[forms.Choice] = []
    if text:
        choices = find(text, kind, [], lang)
        for choice in choices:
            choice.checked = False
        if iri is None and choices:
            iri = choices[0].iri
        for choice in choices:
            choice.checked = choice.iri == iri
    if iri and not any(c.iri == iri for c in choices):
        choices.insert(0, forms.Choice(iri, vocab().label(iri, lang), checked=True))
    return iri, text, choices


@bp.route("/directory")
def directory() -> Any:
    lang = current_language()
    errors: dict[str, str] = {}
    skill, skill_q, skill_choices = _concept_filter("skill", "skill", lang)
    occupation, occupation_q, occupation_choices = _concept_filter("occupation", "occupation", lang)
    args = request.args
    query = member_service.DirectoryQuery(
        skill=skill,
        occupation=occupation,
        country=args.get("country", "").strip() or None,
        language=args.get("language", "").strip() or None,
        available_from=forms.parse_date(args.get("available_from", ""), "available_from", errors),
        available_until=forms.parse_date(
            args.get("available_until", ""), "available_until", errors
        ),
        node=args.get("node", "").strip() or None,
        text=args.get("q", "").strip()[:100] or None,
        page=forms.page_number(args),
        per_page=PER_PAGE,
    )
    start, end = query.available_from, query.available_until
    if start and end and end < start:
        # Said, not silently ignored (which showed everyone): no one matches a period that
        # ends before it starts.
        errors["available_until"] = _("The period ends before it starts.")
    if errors:
        found, total = [], 0
    else:
        found, total = member_service.search_directory(db(), current_member(), query)
    return render_template(
        "directory.html",
        members=found,
        total=total,
        page=query.page,
        pages=pages(total),
        errors=errors,
        skill_q=skill_q,
        skill_choices=skill_choices,
        occupation_q=occupation_q,
        occupation_choices=occupation_choices,
        countries=forms.country_choices(lang),
        languages=forms.language_choices(lang),
        coops=coops(),
    ), (422 if errors else 200)
