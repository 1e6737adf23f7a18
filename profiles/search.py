"""Accent- and case-insensitive keyword search over stored text, the same on SQLite and
PostgreSQL: rows keep a *folded* copy of their searchable text (:func:`fold`), and a query
matches when every folded keyword is a substring of it (``LIKE '%word%'``, escaped).

Why not each database's full-text search: SQLite's FTS5 and PostgreSQL's tsvector stem per
language and would need one configuration per call language (seven, plus whatever partners
send); a substring match finds "Schnitt" in "Videoschnitt" in every language, and a scan of
10,000 folded rows stays far under the 100 ms budget (``bench/bench_call_search.py``).
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import ColumnElement, and_, true
from sqlalchemy.orm import InstrumentedAttribute

from federation.sanitize import plain_text

# Letters NFKD does not decompose into a base letter + combining mark.
_EXTRA = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th"})
MAX_WORDS = 8


def fold(text: str) -> str:
    """Lower case, without accents or other marks: "Écoute Großes" -> "ecoute grosses"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_EXTRA))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def searchable(*parts: str | None, html: str | None = None) -> str:
    """The folded text a row is searched by: plain ``parts`` and the text of ``html``."""
    texts = [p for p in parts if p] + ([plain_text(html)] if html else [])
    return fold(" ".join(texts))


def keywords(query: str | None) -> list[str]:
    """The folded words of a search box entry (at most :data:`MAX_WORDS`)."""
    return [w for w in fold(query or "").split() if w][:MAX_WORDS]


def matches_all(
    column: ColumnElement[str] | InstrumentedAttribute[str], query: str | None
) -> ColumnElement[bool]:
    """SQL: ``column`` (folded text) contains every keyword of ``query``."""
    words = keywords(query)
    if not words:
        return true()
    return and_(*(column.contains(w, autoescape=True) for w in words))
