"""HTML from remote servers, reduced to an allow-list before it is stored or rendered.

Every remote string that may hold HTML (summary, content, PropertyValue values) goes through
:func:`sanitize_html`; every string shown as text (names, usernames, labels) through
:func:`plain_text`. nh3 (ammonia) parses like a browser, so unclosed or malformed markup cannot
smuggle a tag through. The tag set is close to what Mastodon keeps for remote statuses.
"""

from __future__ import annotations

import html
import re

import nh3

ALLOWED_TAGS = frozenset({"p", "br", "a", "span", "em", "strong", "ul", "ol", "li", "b", "i"})
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
# Remote links must not pass on our users' referrers or gain SEO credit from us.
LINK_REL = "nofollow noopener noreferrer"

_BREAKS = re.compile(r"<\s*(?:br|/p|/li|/div|/h[1-6])\b[^>]*>", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def sanitize_html(text: str | None, max_chars: int = 50_000) -> str:
    """Allow-listed HTML: ``p br a[href] span em strong ul ol li b i``.

    Links keep only ``href`` with an absolute http/https/mailto URL and get
    ``rel="nofollow noopener noreferrer"``; scripts and styles are removed with their content;
    every other tag is dropped (its text kept). Input beyond ``max_chars`` is cut first.
    """
    if not text:
        return ""
    return nh3.clean(
        text[:max_chars],
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={"a": {"href"}},
        url_schemes=set(ALLOWED_SCHEMES),
        link_rel=LINK_REL,
        url_relative="deny",
        strip_comments=True,
    )


def plain_text(text: str | None, max_chars: int = 10_000) -> str:
    """Text with every tag removed, entities decoded, whitespace collapsed, cut to ``max_chars``.

    The result is *text*, not HTML: templates must still escape it when rendering.
    """
    if not text:
        return ""
    spaced = _BREAKS.sub(" ", text[: max_chars * 4])
    stripped = nh3.clean(spaced, tags=set(), clean_content_tags={"script", "style"})
    return _SPACES.sub(" ", html.unescape(stripped)).strip()[:max_chars]
