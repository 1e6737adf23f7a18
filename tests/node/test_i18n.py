"""UI translations: every catalog complete and well-formed, the .pot in step with the sources,
and pages rendered in each UI language (chosen by Accept-Language and by ?lang=)."""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

REPO = Path(__file__).resolve().parents[2]
TRANSLATIONS = REPO / "node" / "translations"
POT = TRANSLATIONS / "messages.pot"
LANGS = ("de", "sv", "fr", "nl", "it", "es")
KEYWORDS_EXTRA = ("_l", "lazy_gettext")  # as in the extract command in babel.cfg
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]")

# A nav label per language (base.html), so a page in the wrong language fails visibly.
PROJECT_CALLS = {
    "en": "Project calls",
    "de": "Projektausschreibungen",
    "sv": "Projektutlysningar",
    "fr": "Appels à projets",
    "nl": "Projectoproepen",
    "it": "Bandi di progetto",
    "es": "Convocatorias de proyecto",
}
SIGN_IN = {
    "en": "Sign in",
    "de": "Anmelden",
    "sv": "Logga in",
    "fr": "Se connecter",
    "nl": "Inloggen",
    "it": "Accedi",
    "es": "Iniciar sesión",
}


def _read(path: Path, lang: str | None = None):
    with path.open("rb") as f:
        return read_po(f, locale=lang)


def compile_catalogs() -> None:
    """Compile every .po whose .mo is missing or older (what `make translations` does), so
    the suite also passes from a fresh clone. Atomic replace: xdist workers may race."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        catalog = _read(po, po.parent.parent.name)
        fd, tmp = tempfile.mkstemp(dir=po.parent, suffix=".mo.tmp")
        with os.fdopen(fd, "wb") as f:
            write_mo(f, catalog)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a .mo is an ordinary shared file
        os.replace(tmp, mo)


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs() -> None:
    compile_catalogs()


def _key(message) -> str:
    return message.id[0] if isinstance(message.id, tuple) else message.id


def _placeholders(texts) -> set[str]:
    return {m.group(0) for t in texts for m in PLACEHOLDER.finditer(t)}


def _source_ids() -> set[str]:
    with (REPO / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    from babel.messages.extract import DEFAULT_KEYWORDS

    keywords = dict(DEFAULT_KEYWORDS)
    for k in KEYWORDS_EXTRA:
        keywords[k] = None
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(REPO / "node"), method_map, options_map, keywords=keywords
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_pot_is_up_to_date_with_the_sources():
    """A string added to the code or a template without re-extracting fails here:
    run the pybabel extract/update commands in babel.cfg, then translate."""
    pot_ids = {_key(m) for m in _read(POT) if m.id}
    source_ids = _source_ids()
    assert source_ids - pot_ids == set(), "new strings missing from messages.pot"
    assert pot_ids - source_ids == set(), "messages.pot has strings no longer in the sources"


@pytest.mark.parametrize("lang", [*LANGS, "en"])
def test_catalog_has_every_message_of_the_template(lang):
    pot_ids = {_key(m) for m in _read(POT) if m.id}
    po_ids = {_key(m) for m in _read(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po") if m.id}
    assert pot_ids - po_ids == set(), f"run pybabel update for {lang}"


@pytest.mark.parametrize("lang", LANGS)
def test_every_message_is_translated_with_its_placeholders(lang):
    catalog = _read(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", lang)
    problems = []
    for m in catalog:
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if m.fuzzy:
            problems.append(f"fuzzy: {ids[0]!r}")
        if not all(strings) or len(strings) != catalog.num_plurals and len(ids) > 1:
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        wanted = _placeholders(ids)
        for s in strings:
            if _placeholders([s]) != wanted:
                problems.append(f"placeholders differ: {ids[0]!r} -> {s!r}")
    for message, errors in catalog.check():
        problems.extend(f"{message.id!r}: {e}" for e in errors)
    assert problems == []


def test_placeholder_check_catches_a_broken_translation():
    """The check above can fail: a renamed placeholder is caught."""
    assert _placeholders(["Welcome, %(name)s"]) != _placeholders(["Willkommen, %(nom)s"])
    assert _placeholders(["%(kb)d kB"]) == {"%(kb)d"}


@pytest.fixture
def i18n_app(make_node):
    return make_node()


PAGES = ("/", "/directory", "/calls", "/login")


def test_pages_follow_accept_language(i18n_app):
    # One node for all languages: building a node costs most of this test's time.
    for lang in (*LANGS, "en"):
        for path in PAGES:
            client = i18n_app.test_client()
            response = client.get(path, headers={"Accept-Language": f"{lang}-XX,{lang};q=0.9"})
            assert response.status_code == 200, (lang, path)
            html = response.get_data(as_text=True)
            assert f'<html lang="{lang}">' in html, (lang, path)
            assert PROJECT_CALLS[lang] in html, (lang, path)
            assert SIGN_IN[lang] in html, (lang, path)


def test_lang_parameter_beats_accept_language_and_is_remembered(i18n_app):
    english = {"Accept-Language": "en"}
    for lang in LANGS:
        client = i18n_app.test_client()
        for path in PAGES:
            html = client.get(f"{path}?lang={lang}", headers=english).get_data(as_text=True)
            assert PROJECT_CALLS[lang] in html, (lang, path)
            assert PROJECT_CALLS["en"] not in html, (lang, path)
        # Remembered in the session for the next pages, without the parameter.
        html = client.get("/calls", headers=english).get_data(as_text=True)
        assert PROJECT_CALLS[lang] in html, lang
    # An unknown code is ignored: the browser's language (none we offer) -> English.
    html = i18n_app.test_client().get("/?lang=xx", headers={"Accept-Language": "ja"})
    assert PROJECT_CALLS["en"] in html.get_data(as_text=True)


def test_plural_forms_render(i18n_app):
    from flask_babel import force_locale, ngettext

    with i18n_app.test_request_context("/"):
        with force_locale("de"):
            one = ngettext("%(num)d open call", "%(num)d open calls", 1)
            assert one == "1 offene Ausschreibung"
            assert ngettext("%(num)d open call", "%(num)d open calls", 3) == (
                "3 offene Ausschreibungen"
            )
        with force_locale("fr"):  # French: 0 is singular
            assert ngettext("%(num)d open call", "%(num)d open calls", 0) == "0 appel ouvert"


def test_mapping_file_is_parsable():
    method_map, _options = parse_mapping_cfg(io.StringIO((REPO / "babel.cfg").read_text()))
    assert ("templates/**.html", "jinja2") in method_map
