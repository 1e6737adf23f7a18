"""UI language: ?lang= switch (remembered in the session), then the member's choice, then the
browser's Accept-Language, then the node's default."""

from __future__ import annotations

from flask import current_app, g, request, session
from flask_babel import Babel

from profiles.languages import UI_LANGUAGES

LANGUAGE_NAMES = {
    "en": "English",
    "de": "Deutsch",
    "sv": "Svenska",
    "fr": "Français",
    "nl": "Nederlands",
    "it": "Italiano",
    "es": "Español",
}

babel = Babel()


def select_locale() -> str:
    chosen = request.args.get("lang")
    if chosen in UI_LANGUAGES:
        session["lang"] = chosen
        return chosen
    remembered = session.get("lang")
    if remembered in UI_LANGUAGES:
        return str(remembered)
    member = g.get("member")
    if member is not None and member.ui_language in UI_LANGUAGES:
        return str(member.ui_language)
    best = request.accept_languages.best_match(UI_LANGUAGES)
    return best or current_app.extensions["coopfed"].settings.default_language


def current_language() -> str:
    from flask_babel import get_locale

    locale = get_locale()
    return locale.language if locale else "en"
