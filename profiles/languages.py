"""The languages of a coopfed node, in one place.

- :data:`UI_LANGUAGES`: the seven languages the interface is translated into, in the order
  they are offered (the language switcher, ``?lang=`` of the API, concept labels, the linker).
- :data:`WORKING_LANGUAGES`: the languages offered first in forms for working languages (the
  24 official EU languages, ISO 639-1); any ISO 639-1 code is accepted
  (:func:`profiles.validation.language`).
- :data:`LANGUAGE_LEVELS`: CEFR levels a member declares, plus ``native``.
"""

from __future__ import annotations

UI_LANGUAGES: tuple[str, ...] = ("en", "de", "sv", "fr", "nl", "it", "es")
DEFAULT_UI_LANGUAGE = "en"

WORKING_LANGUAGES: tuple[str, ...] = (
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr",
    "hu", "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
)  # fmt: skip

LANGUAGE_LEVELS: tuple[str, ...] = ("A1", "A2", "B1", "B2", "C1", "C2", "native")

__all__ = ["DEFAULT_UI_LANGUAGE", "LANGUAGE_LEVELS", "UI_LANGUAGES", "WORKING_LANGUAGES"]
