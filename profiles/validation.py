"""Parsing and checking of user-supplied values shared by forms, the API and the importers."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache
from urllib.parse import urlsplit

from babel import Locale

from profiles.languages import LANGUAGE_LEVELS
from profiles.visibility import DEFAULT_PROFILE, VALUES, Visibility

# Mastodon's rule (app/models/account.rb USERNAME_RE): letters, digits and _, with . or - only
# inside; so every member is addressable as @name@domain from any fediverse server. 2–30 long.
USERNAME_RE = re.compile(r"^[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*$")
USERNAME_MIN, USERNAME_MAX = 2, 30
# Names of the node's own actors and routes: a member called "calls" would shadow @calls@DOMAIN.
RESERVED_USERNAMES = frozenset({"coop", "calls", "actor", "inbox"})
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")


# Two-letter territory codes CLDR names that are no country one lives or works in: groupings
# (EU, EZ, UN, QO), the unknown region (ZZ), test locales (XA, XB) and ISO's "exceptionally
# reserved" codes for parts of countries (AC, CP, CQ, DG, EA, IC, TA). Kosovo (XK) stays.
NOT_COUNTRIES = frozenset(
    {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"}
)


@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes of real countries and territories (CLDR's, less
    :data:`NOT_COUNTRIES`)."""
    codes: list[str] = [str(c) for c in Locale("en").territories]
    return frozenset(c for c in codes if len(c) == 2 and c.isalpha() and c not in NOT_COUNTRIES)


@lru_cache(maxsize=1)
def language_codes() -> frozenset[str]:
    codes: list[str] = [str(c) for c in Locale("en").languages]
    return frozenset(c for c in codes if len(c) == 2)


def username(value: str) -> str:
    value = (value or "").strip().lower()
    if not USERNAME_MIN <= len(value) <= USERNAME_MAX or not USERNAME_RE.match(value):
        raise ValueError("2–30 characters: letters, digits and _, with . or - only inside")
    if value in RESERVED_USERNAMES:
        raise ValueError(f"{value!r} is reserved for the node itself")
    return value


def suggest_username(value: str) -> str:
    """A valid user name close to ``value`` (for the importer's report): accents dropped,
    other characters replaced by ``_``, punctuation trimmed from the ends."""
    ascii_text = unicodedata.normalize("NFKD", value or "").encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9_.-]+", "_", ascii_text.lower())
    name = re.sub(r"[.-]*_[.-]*", "_", name).strip("._-")[:USERNAME_MAX].strip("._-")
    name = re.sub(r"_+", "_", name) or "member"
    if len(name) < USERNAME_MIN:
        name = f"{name}_1"
    if name in RESERVED_USERNAMES:
        name = f"{name}_1"
    return name


def email(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if not EMAIL_RE.match(value):
        raise ValueError("not an e-mail address")
    return value.lower()


def country(value: str | None, *, required: bool = False) -> str:
    value = (value or "").strip().upper()
    if not value:
        if required:
            raise ValueError("required")
        return ""
    if value not in country_codes():
        raise ValueError(f"unknown country code {value!r} (ISO 3166 alpha-2, e.g. SE)")
    return value


def language(value: str | None) -> str:
    value = (value or "").strip().lower()
    if value not in language_codes():
        raise ValueError(f"unknown language code {value!r} (ISO 639-1, e.g. sv)")
    return value


def level(value: str | None) -> str:
    raw = (value or "").strip()
    normalised = raw.lower() if raw.lower() == "native" else raw.upper()
    if normalised not in LANGUAGE_LEVELS:
        raise ValueError(f"unknown level {raw!r} (A1–C2 or native)")
    return normalised


def visibility(value: str | None, default: str = DEFAULT_PROFILE.value) -> str:
    """A submitted visibility (see :mod:`profiles.visibility`); ``default`` when empty."""
    try:
        return Visibility.parse(value, default=Visibility(default)).value
    except ValueError:
        raise ValueError("one of " + ", ".join(VALUES)) from None


def iso_date(value: object) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError("a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def web_url(value: str) -> str:
    value = (value or "").strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(value) > 512:
        raise ValueError("an http(s) address")
    return value


def text(value: object, limit: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValueError("text expected")
    value = value.strip()
    if required and not value:
        raise ValueError("required")
    if len(value) > limit:
        raise ValueError(f"at most {limit} characters")
    return value


def boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value in (None, ""):
        return False
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "y"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off", "n"):
        return False
    raise ValueError("true or false")
