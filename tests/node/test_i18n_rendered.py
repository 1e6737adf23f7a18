"""No English in a non-English UI: every page rendered in each UI language, its visible text
and labelled attributes compared with the English message ids (and with the English messages
the domain layer raises); catalogs with no msgstr equal to its msgid except allow-listed words;
country lists with real countries only."""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from node.web import messages as ui_messages
from node.web.forms import country_choices
from profiles.calls import CallData, create_call
from profiles.members import ProfileData, create_member, get_local

REPO = Path(__file__).resolve().parents[2]
LANGS = ("de", "sv", "fr", "nl", "it", "es")
PASSWORD = "a long enough password"
SOUND_MIXING = "http://data.europa.eu/esco/skill/72812eb6-5a0f-48e8-815d-3d2a16b8e963"
# Words that are the same in English and this language (checked by a native reader), or proper
# nouns and brand-like terms kept in English.
SAME_AS_ENGLISH = {
    "de": {"Remote", "Domain", "Name", "Host", "Status", "Portfolio", "Link %(n)s"},
    "sv": {"admin", "Federation", "Status", "Portfolio", "Administration", "Period"},
    "fr": {
        "Pages",
        "admin",
        "Description",
        "Portfolio",
        "active",
        "Invitations",
        "Administration",
        "Notifications",
        "Messages",
    },
    "nl": {"Host", "Status", "Portfolio", "Bio", "Account", "Link %(n)s", "Scopes"},
    "it": {"Host", "Password", "Portfolio", "Account", "Link %(n)s", "no"},
    "es": {"Host", "no"},
}
ALWAYS_ENGLISH = {"Atom", "RSS", "OK"}  # format names on links


def catalog(lang: str):
    with (REPO / "node/translations" / lang / "LC_MESSAGES/messages.po").open("rb") as f:
        return read_po(f, locale=lang)


@pytest.mark.parametrize("lang", LANGS)
def test_no_msgstr_is_its_english_msgid_unless_allow_listed(lang):
    same = sorted(
        m.id
        for m in catalog(lang)
        if m.id and isinstance(m.id, str) and m.string == m.id and m.id not in SAME_AS_ENGLISH[lang]
    )
    assert same == [], f"{lang}: translate these or allow-list them with a reason"


def test_country_lists_hold_real_countries_only():
    for lang in ("en", "de"):
        codes = {code for code, _name in country_choices(lang)}
        assert {"SE", "DE", "XK", "GB", "US"} <= codes
        assert codes.isdisjoint({"XA", "XB", "ZZ", "EU", "EZ", "UN", "QO"}), lang
    names = {name for _code, name in country_choices("en")}
    assert names.isdisjoint({"Pseudo-Accents", "Pseudo-Bidi", "Unknown Region", "Eurozone"})


class _Text(HTMLParser):
    """Visible text nodes and human-read attributes of a page (not scripts, styles, values)."""

    ATTRS = ("placeholder", "aria-label", "title", "alt")

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in self.ATTRS and value:
                self.texts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()))


def _english_only(lang: str) -> set[str]:
    """English texts that must not show in ``lang``: msgids translated differently (without
    placeholders, which never show verbatim), and the domain layer's English messages."""
    messages = list(catalog(lang))
    found = {
        m.id
        for m in messages
        if isinstance(m.id, str) and m.id and m.string and m.string != m.id and "%(" not in m.id
    }
    found |= {k for k in ui_messages._english_messages() if "%" not in k}
    # A translation that happens to read like another English msgid (de "admin" -> "Admin").
    translations = {
        s for m in messages for s in ([m.string] if isinstance(m.string, str) else m.string)
    }
    return found - ALWAYS_ENGLISH - translations


@pytest.fixture
def site(make_node):
    app = make_node()
    app.config["WTF_CSRF_ENABLED"] = False
    state = app.extensions["coopfed"]
    with state.session() as s:
        vocab = state.vocabulary.get(s)
        for name, admin in (("anna", True), ("bo", False)):
            create_member(
                s,
                state.ctx,
                username=name,
                password=PASSWORD,
                is_admin=admin,
                profile=ProfileData(
                    name=name.title(), summary="Sound.", skills=[SOUND_MIXING], visibility="public"
                ),
                vocab=vocab,
            )
        s.commit()
        call = create_call(
            s,
            state.ctx,
            get_local(s, state.ctx, "anna"),
            CallData(
                title="Tour",
                country="SE",
                skills_required=[SOUND_MIXING],
                starts=date(2031, 5, 1),
                ends=date(2031, 6, 1),
                visibility="public",
            ),
            vocab,
        )
        s.commit()
        app.config["TEST_CALL"] = call.public_id
        from profiles.models import Partnership

        s.add(
            Partnership(
                actor="https://p.example/actor",
                domain="p.example",
                name="Smart P",
                inbox="https://p.example/inbox",
                state="active",
            )
        )
        s.commit()
    return app


def _pages(call_id: str) -> list[tuple[str, str, dict[str, str] | None]]:
    """(method, path, form) of the pages to check; an admin is signed in."""
    bad_call = {
        "title": "X",
        "country": "SE",
        "starts": "2031-06-01",
        "ends": "2031-05-01",
        "visibility": "public",
        "language": "en",
        "action": "save",
    }
    return [
        ("GET", "/", None),
        ("GET", "/about", None),
        ("GET", "/directory", None),
        ("GET", f"/directory?skill={SOUND_MIXING}", None),
        ("GET", "/calls", None),
        ("GET", "/calls?q=tour&skill_q=Mischpult", None),
        ("GET", f"/calls/{call_id}", None),
        ("GET", "/calls/nosuchcall", None),
        ("GET", "/calls/new", None),
        ("POST", "/calls/new", bad_call),
        ("GET", f"/calls/{call_id}/edit", None),
        ("GET", f"/calls/{call_id}/delete", None),
        ("GET", "/members/anna", None),
        ("GET", "/members/nobody", None),
        ("GET", "/profile/edit", None),
        ("GET", "/following", None),
        ("GET", "/follow", None),
        ("GET", "/follow?account=not a server!", None),
        ("GET", "/admin/", None),
        ("GET", "/admin/federation/", None),
        ("GET", "/admin/mail", None),
        ("POST", "/admin/federation/blocks/block_domain", {"value": "p.example"}),
        ("POST", "/admin/federation/partners/remove", {"domain": "p.example"}),
    ]


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_is_in_the_ui_language(site, lang):
    english = _english_only(lang)
    client = site.test_client()
    assert client.post("/login", data={"username": "anna", "password": PASSWORD}).status_code == 302
    client.get(f"/?lang={lang}")
    problems = []
    for method, path, form in _pages(site.config["TEST_CALL"]):
        response = client.open(path, method=method, data=form)
        assert response.status_code < 500, (path, response.status_code)
        parser = _Text()
        parser.feed(response.get_data(as_text=True))
        problems += [
            f"{path}: {t!r}" for t in parser.texts if t.rstrip(".:") in english or t in english
        ]
    assert problems == []


def test_the_check_can_fail(site):
    """An English message in a German page is caught: the raw domain message is English."""
    english = _english_only("de")
    assert "ends before it starts" in english and "Project calls" in english
    assert re.sub(r"\s+", " ", "no such call") in english


# Literals that stay as they are in every language: format names, an example handle, the ESCO
# attribution in its licensed wording, the software's name, a URL scheme.
TEMPLATE_LITERALS = {
    "Atom",
    "RSS",
    "(Atom)",
    "(RSS)",
    "@name@example.social",
    "ESCO – © European Union",
    "· coopfed",
    "https://",
}
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)


class _Literals(_Text):
    """Text a template shows outside ``{{ }}`` (with the Jinja parts blanked out)."""

    def handle_data(self, data):
        if not self._skip and re.search(r"[A-Za-z]{2}", data) and "aria-" not in data:
            self.texts.append(data.strip())


def test_templates_have_no_untranslated_literals():
    problems = []
    for path in sorted((REPO / "node/templates").rglob("*.html")):
        if "mail" in path.parts:  # mails: tests/mail checks their rendering per language
            continue
        parser = _Literals()
        parser.feed(_JINJA.sub(" ", path.read_text(encoding="utf-8")))
        problems += [
            f"{path.name}: {t!r}"
            for t in parser.texts
            if re.search(r"[A-Za-z]{2}", t) and t.strip() not in TEMPLATE_LITERALS
        ]
    assert problems == [], "wrap these in _() or allow-list them with a reason"


def test_the_literal_check_can_fail():
    parser = _Literals()
    parser.feed(_JINJA.sub(" ", '<p>{{ _("Fine") }} Hello world</p><input placeholder="Type">'))
    assert parser.texts == ["Hello world", "Type"]
