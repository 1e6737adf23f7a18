"""The UI's words for what the domain layer says in English: validation and error messages
(``profiles`` raises them in English for the CLI, the API and the logs) and stored state values
(partnership, delivery and host states, block actions), as template globals.

:func:`ui_message` translates a known message, or a known pattern with a value in it; an
unknown message stays as it is (it may already be translated: the form parsers translate
theirs). :func:`state_label` does the same for state values.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Blueprint
from flask_babel import gettext as _

bp = Blueprint("messages", __name__)


def _exact() -> dict[str, str]:
    return {
        "required": _("Required."),
        "ends before it starts": _("The end date is before the start date."),
        "a period ends before it starts": _("A period ends before it starts."),
        "a period longer than three years": _("A period may last at most three years."),
        "the deadline is after the end": _("The deadline is after the end date."),
        "give a country, or mark the call as remote": _(
            "Give a country, or mark the call as remote."
        ),
        "open or closed": _("Open or closed."),
        "not an e-mail address": _("Not an e-mail address."),
        "a date as YYYY-MM-DD": _("A date as YYYY-MM-DD."),
        "text expected": _("Text expected."),
        "true or false": _("Yes or no."),
        "a visibility is required": _("Choose who may see this."),
        "2–30 characters: lower-case letters, digits and _": _(
            "2–30 characters: lower-case letters, digits and _."
        ),
        "no such call": _("There is no such call."),
        "only members of this coop post calls here": _(
            "Only members of this coop post calls here."
        ),
        "calls of partner coops are edited on their own node": _(
            "Calls of partner coops are edited on their own node."
        ),
        "only the author may change this call": _("Only the author may change this call."),
        "only local members are edited here": _("Only members of this coop are edited here."),
        # werkzeug's default descriptions of HTTP errors
        "The requested URL was not found on the server. If you entered the URL manually please "
        "check your spelling and try again.": _(
            "There is nothing at this address. If you typed it, please check the spelling."
        ),
        "You don't have the permission to access the requested resource. It is either "
        "read-protected or not readable by the server.": _("You may not see this page."),
        "The method is not allowed for the requested URL.": _(
            "This address does not accept that kind of request."
        ),
        "The CSRF token is missing.": _(
            "The form has expired or was sent from elsewhere. Please reload the page and try again."
        ),
        "The CSRF token has expired.": _(
            "The form has expired or was sent from elsewhere. Please reload the page and try again."
        ),
    }


# size: a table, one entry per message a domain error may carry; split, it would hide entries
def _patterns() -> list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]]:
    return [
        (
            re.compile(r"^at most (\d+) characters$"),
            lambda m: _("At most %(n)s characters.", n=m.group(1)),
        ),
        (
            re.compile(r"^at most (\d+) skills in all$"),
            lambda m: _("At most %(n)s skills in all.", n=m.group(1)),
        ),
        (
            re.compile(r"^at most (\d+) phrases in all$"),
            lambda m: _("At most %(n)s skills in your own words, one per line.", n=m.group(1)),
        ),
        (
            re.compile(r"^a line of at most (\d+) characters: (.*)$"),
            lambda m: _(
                "Each line may have at most %(n)s characters: “%(text)s…”",
                n=m.group(1),
                text=m.group(2),
            ),
        ),
        (
            re.compile(r"^at most (\d+)( periods)?$"),
            lambda m: _("At most %(n)s.", n=m.group(1)),
        ),
        (
            re.compile(r"^at least (\d+) characters$"),
            lambda m: _("At least %(n)s characters.", n=m.group(1)),
        ),
        (
            re.compile(r"^unknown (?:(?:skill|occupation) )?concept (\S+)$"),
            lambda m: _("Unknown skill or occupation: %(iri)s", iri=m.group(1)),
        ),
        (
            re.compile(r"^'(.*)' is not a date \(YYYY-MM-DD\)$"),
            lambda m: _("Not a date (YYYY-MM-DD): %(value)s", value=m.group(1)),
        ),
        (
            re.compile(r"^unknown country code '(.*)'"),
            lambda m: _("Unknown country code: %(value)s", value=m.group(1)),
        ),
        (
            re.compile(r"^unknown language code '(.*)'"),
            lambda m: _("Unknown language code: %(value)s", value=m.group(1)),
        ),
        (
            re.compile(r"^(\w+>\w+): source and target are the same language$"),
            lambda m: _("%(pair)s: the two languages of a pair must differ.", pair=m.group(1)),
        ),
        (
            re.compile(r"^'(.*)'…?:? (?:is )?not a pair such as de>sv"),
            lambda m: _("Not a language pair such as de>sv: %(value)s", value=m.group(1)),
        ),
        (
            re.compile(r"^at most (\d+) language pairs$"),
            lambda m: _("At most %(n)s language pairs.", n=m.group(1)),
        ),
        (
            re.compile(r"^username '(.*)' is taken$"),
            lambda m: _("The user name %(value)s is taken.", value=m.group(1)),
        ),
        (
            re.compile(r"^no member '(.*)'$"),
            lambda m: _("There is no member %(value)s.", value=m.group(1)),
        ),
    ]


def _english_messages() -> set[str]:
    """The English messages :func:`ui_message` knows (for the test that no page shows them)."""
    from flask_babel import force_locale

    with force_locale("en"):
        return set(_exact())


@bp.app_template_global()
def ui_message(message: object) -> str:
    """``message`` in the UI language when it is one the domain layer says in English."""
    text = str(message or "")
    known = _exact().get(text)
    if known is not None:
        return known
    for pattern, render in _patterns():
        found = pattern.match(text)
        if found:
            return render(found)
    return text


@bp.app_template_global()
def state_label(value: str) -> str:
    """A stored state (partnership, delivery, host) or block action, in the UI language."""
    labels = {
        "requested": _("requested"),
        "pending": _("pending"),
        "active": _("active"),
        "rejected": _("rejected"),
        "suspended": _("suspended"),
        "sent": _("sent"),
        "failed": _("failed"),
        "dead": _("unreachable"),
        "ok": _("ok"),
        "failing": _("failing"),
        "block": _("blocked"),
        "allow": _("allowed"),
    }
    return labels.get(value, value)


@bp.app_template_global()
def search_languages() -> list[str]:
    """Languages whose labels the live skill search offers: the UI language, then the
    signed-in member's languages (a match in any other language is noise to them)."""
    from node.i18n import current_language
    from node.web import current_member

    found = [current_language()]
    me = current_member()
    for known in me.languages if me is not None else []:
        if known.code not in found:
            found.append(known.code)
    return found
