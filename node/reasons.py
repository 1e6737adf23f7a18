"""Reasons as sentences in the viewer's language.

:class:`matchmaking.Reason` carries codes, concept IRIs and values only; this module turns one
into a sentence with gettext (the UI language, or the API's ``?lang=``) and the concepts'
labels in that same language: an Austrian member reads a Swedish member's skills in German,
whatever language they were entered in. Country and language names come from CLDR (Babel).

The same reason code reads differently depending on who is looking (``perspective``):

- ``candidate``: a call's author looking at a suggested collaborator;
- ``self``: a member looking at a call suggested to them;
- ``peer``: a member looking at a person to meet (the viewer's own concepts play the call).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from flask_babel import force_locale, gettext

import matchmaking as mm
from profiles.vocabulary import Vocabulary

PERSPECTIVES = ("candidate", "self", "peer")
# Quotation marks around a member's own words, as each language writes them.
QUOTES = {
    "de": ("„", "“"),
    "fr": ("« ", " »"),
    "sv": ("”", "”"),
    "it": ("«", "»"),
    "es": ("«", "»"),
}


@lru_cache(maxsize=16)
def _locale(lang: str) -> Locale:
    try:
        return Locale.parse(lang)
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en")


def country_name(code: str, lang: str) -> str:
    return _locale(lang).territories.get(code.upper(), code) if code else ""


def language_name(code: str, lang: str) -> str:
    return _locale(lang).languages.get(code, code)


def _join(items: list[str]) -> str:
    return ", ".join(items)


def _day(value: str, lang: str) -> str:
    try:
        return format_date(date.fromisoformat(value), format="medium", locale=_locale(lang))
    except ValueError:
        return value


def _concepts_text(vocab: Vocabulary, lang: str) -> Callable[[tuple[str, ...]], str]:
    def labels(iris: tuple[str, ...]) -> str:
        return _join([vocab.label(i, lang) for i in iris])

    return labels


def _related(reason: mm.Reason, vocab: Vocabulary, lang: str) -> tuple[str, str]:
    """(wanted labels, held labels) of a related_skill reason's (wanted, held) pairs."""
    pairs = list(zip(reason.concepts[::2], reason.concepts[1::2], strict=False))
    wanted = _join([vocab.label(w, lang) for w, _ in pairs])
    held = _join(sorted({vocab.label(h, lang) for _, h in pairs}))
    return wanted, held


# size: one flat table of every reason code's sentences (gettext needs each msgid literal)
def sentence(reason: mm.Reason, vocab: Vocabulary, lang: str, perspective: str) -> str:
    """The reason as one sentence in the active gettext locale, labels in ``lang``.

    Call it inside ``force_locale(lang)`` (or a request in that language), see :func:`render`.
    """
    code, v = reason.code, reason.values
    labels = _concepts_text(vocab, lang)
    items = labels(reason.concepts)
    if code == "covers_required":
        if perspective == "self":
            return gettext("You have the required skills: %(items)s", items=items)
        if perspective == "peer":
            return gettext("Shares your skills: %(items)s", items=items)
        return gettext("Has the required skills: %(items)s", items=items)
    if code == "covers_optional":
        if perspective == "self":
            return gettext("You also have these nice-to-have skills: %(items)s", items=items)
        return gettext("Also has these nice-to-have skills: %(items)s", items=items)
    if code == "related_skill":
        # Only occupations of one ISCO unit group are "related" (profiles.match_data); the
        # sentences name them after a colon so that no article or agreement depends on them.
        wanted, held = _related(reason, vocab, lang)
        if perspective == "self":
            return gettext(
                "Your occupation is related: %(held)s (the call asks for: %(wanted)s)",
                held=held,
                wanted=wanted,
            )
        return gettext(
            "Related occupation: %(held)s (you asked for: %(wanted)s)", held=held, wanted=wanted
        )
    if code == "implied_skill":
        skills = _join([vocab.label(c, lang) for c in reason.concepts[::2]])
        occupations = _join(sorted({vocab.label(o, lang) for o in reason.concepts[1::2]}))
        if perspective == "self":
            return gettext(
                "Your occupation (%(occupations)s) includes: %(items)s",
                occupations=occupations,
                items=skills,
            )
        return gettext(
            "Their occupation (%(occupations)s) includes: %(items)s",
            occupations=occupations,
            items=skills,
        )
    if code == "wrote":
        pairs = list(zip(v[::2], v[1::2], strict=False))
        opening, closing = QUOTES.get(lang, ("“", "”"))
        theirs = _join([f"{opening}{t}{closing}" for t, _ in pairs])
        wanted = _join(sorted({f"{opening}{w}{closing}" for _, w in pairs}))
        if perspective == "self":
            return gettext(
                "You wrote %(theirs)s; the call asks for %(wanted)s", theirs=theirs, wanted=wanted
            )
        if perspective == "peer":
            return gettext("Wrote %(theirs)s, like you", theirs=theirs)
        return gettext("Wrote %(theirs)s (you asked for %(wanted)s)", theirs=theirs, wanted=wanted)
    if code == "language_pair" and len(v) == 2:
        source, target = language_name(v[0], lang), language_name(v[1], lang)
        if perspective == "self":
            return gettext(
                "You translate from %(source)s into %(target)s", source=source, target=target
            )
        return gettext("Translates from %(source)s into %(target)s", source=source, target=target)
    if code == "adds_to_team":
        if perspective == "self":
            return gettext("You bring what the author does not have: %(items)s", items=items)
        return gettext("Brings what your team lacks: %(items)s", items=items)
    if code == "occupation_match":
        if perspective == "self":
            return gettext("Asks for your occupation: %(items)s", items=items)
        return gettext("Works as %(items)s", items=items)
    if code == "text_match":
        if perspective == "self":
            return gettext("The call mentions %(items)s", items=items)
        return gettext("Their profile mentions %(items)s", items=items)
    if code == "shared_languages":
        names = _join([language_name(c, lang) for c in v])
        if perspective == "self":
            return gettext("Works in a language you speak: %(languages)s", languages=names)
        return gettext("Speaks %(languages)s", languages=names)
    if code == "availability_overlap" and len(v) == 3:
        days, first, last = v[0], _day(v[1], lang), _day(v[2], lang)
        if perspective == "self":
            return gettext(
                "You are available %(days)s days of its dates (%(first)s – %(last)s)",
                days=days,
                first=first,
                last=last,
            )
        return gettext(
            "Available %(days)s days of the call's dates (%(first)s – %(last)s)",
            days=days,
            first=first,
            last=last,
        )
    if code == "cross_border" and len(v) == 2:
        theirs, call_country = country_name(v[0], lang), country_name(v[1], lang)
        if perspective == "self":
            return gettext("Abroad: the call is in %(country)s", country=call_country)
        if perspective == "peer":
            return gettext("Cross-border: based in %(country)s", country=theirs)
        return gettext(
            "Cross-border: based in %(country)s, the call is in %(call_country)s",
            country=theirs,
            call_country=call_country,
        )
    if code == "same_country" and v:
        return gettext("Based in %(country)s", country=country_name(v[0], lang))
    if code == "remote_ok":
        if perspective == "self":
            return gettext("Remote work is possible")
        return gettext("Can work remotely")
    if code == "reciprocal":
        return gettext("A good fit both ways")
    return code  # an unknown code from a newer matchmaking: show it rather than hide it


def _shown(reason: mm.Reason, perspective: str) -> bool:
    # For a person to meet, the viewer's own concepts play the call and there is no author:
    # "adds to the team" would repeat "shares your skills".
    return not (perspective == "peer" and reason.code == "adds_to_team")


def render(
    reasons: tuple[mm.Reason, ...], vocab: Vocabulary, lang: str, perspective: str
) -> list[str]:
    """Sentences in ``lang`` (gettext and labels), strongest reason first."""
    with force_locale(lang):
        return [sentence(r, vocab, lang, perspective) for r in reasons if _shown(r, perspective)]


def as_json(
    reasons: tuple[mm.Reason, ...], vocab: Vocabulary, lang: str, perspective: str
) -> list[dict[str, Any]]:
    """The API's reasons: code, rendered text, concepts with labels, raw values."""
    out = []
    with force_locale(lang):
        for r in reasons:
            if not _shown(r, perspective):
                continue
            out.append(
                {
                    "code": r.code,
                    "text": sentence(r, vocab, lang, perspective),
                    "concepts": [{"iri": i, "label": vocab.label(i, lang)} for i in r.concepts],
                    "values": list(r.values),
                }
            )
    return out
