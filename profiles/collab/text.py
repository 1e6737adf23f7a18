"""Plain text of responses and messages: what we store, what we send, what we render.

Stored bodies are plain text (never HTML). Received HTML (Mastodon, other nodes) is reduced to
text with paragraphs kept; sent and rendered HTML is escaped text with http(s) links made
clickable — the only markup, so a message can never carry script, style or images.
"""

from __future__ import annotations

import html
import re

import nh3

MESSAGE_MAX = 5_000
RESPONSE_MESSAGE_MAX = 4_000
DECISION_MAX = 2_000
RATE_MAX = 200
NOTE_MAX = 500
TEAM_CONTACT_MAX = 500
LINKS_MAX = 5

_BLOCK_END = re.compile(r"<\s*(?:br\s*/?|/p|/li|/div|/h[1-6]|/blockquote)\b[^>]*>", re.I)
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def clean_text(text: str | None, max_chars: int) -> str:
    """User-typed text: control characters dropped, spaces tidied, at most ``max_chars``
    (callers that must refuse longer input check the length before)."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch == "\n" or ch == "\t" or ch >= " ")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()[:max_chars]


def html_to_text(content: str | None, max_chars: int) -> str:
    """Received HTML to plain text: tags removed (scripts with their content), entities
    decoded, paragraphs and line breaks kept as newlines."""
    if not content:
        return ""
    marked = _BLOCK_END.sub("\n", content[: max_chars * 4])
    stripped = nh3.clean(marked, tags=set(), clean_content_tags={"script", "style"})
    return clean_text(html.unescape(stripped), max_chars)


def text_to_html(text: str) -> str:
    """Plain text to safe HTML: escaped, paragraphs and line breaks, links clickable
    (``rel="nofollow noopener noreferrer"``)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    out = []
    for para in paragraphs:
        lines = [_linkify(line) for line in para.split("\n")]
        out.append("<p>" + "<br>".join(lines) + "</p>")
    return "".join(out)


def _linkify(line: str) -> str:
    parts: list[str] = []
    last = 0
    for m in _URL.finditer(line):
        parts.append(html.escape(line[last : m.start()]))
        url = html.escape(m.group(0), quote=True)
        parts.append(f'<a href="{url}" rel="nofollow noopener noreferrer">{url}</a>')
        last = m.end()
    parts.append(html.escape(line[last:]))
    return "".join(parts)


__all__ = [
    "DECISION_MAX",
    "LINKS_MAX",
    "MESSAGE_MAX",
    "NOTE_MAX",
    "RATE_MAX",
    "RESPONSE_MESSAGE_MAX",
    "TEAM_CONTACT_MAX",
    "clean_text",
    "html_to_text",
    "text_to_html",
]
