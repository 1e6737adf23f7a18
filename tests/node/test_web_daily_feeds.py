"""Feeds found and followed: alternate links and visible links on call pages, feeds carrying
skills (in the feed's language), place, dates and deadline and filtering by skill, country and
language; the ``@calls`` follow block and remote follow through the visitor's WebFinger;
link previews (OpenGraph) only for public calls and members."""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from node_helpers import add_call, add_member

SOUND_MIXING = "http://data.europa.eu/esco/skill/72812eb6-5a0f-48e8-815d-3d2a16b8e963"
ATOM = "{http://www.w3.org/2005/Atom}"


def label(app, iri, lang):
    state = app.extensions["coopfed"]
    with state.session() as s:
        return state.vocabulary.get(s).label(iri, lang)


@pytest.fixture
def calls_app(app):
    app.config["WTF_CSRF_ENABLED"] = False
    add_member(app, "anna", name="Anna Berg", visibility="public", summary="I mix sound.")
    add_member(app, "hidden", name="Hidden One", visibility="coop", summary="Secret bio.")
    add_call(
        app,
        "anna",
        title="Sound for a theatre tour",
        description="<p>Mixing the <b>sound</b> of a tour.</p>",
        skills_required=[SOUND_MIXING],
        city="Malmö",
        starts=date(2031, 5, 1),
        ends=date(2031, 6, 30),
        deadline=date(2031, 4, 15),
        languages=["sv", "en"],
        visibility="public",
    )
    add_call(
        app, "anna", title="Painter in Ghent", country="BE", languages=["nl"], visibility="public"
    )
    add_call(
        app, "anna", title="Members-only rigging", visibility="coop", description="Only for us."
    )
    return app


def _atom(client, query=""):
    response = client.get(f"/calls.atom{query}")
    assert response.status_code == 200
    return ET.fromstring(response.data)


def test_call_pages_link_their_feeds_and_the_follow_block(calls_app, client):
    page = client.get("/calls?country=SE").get_data(as_text=True)
    assert 'rel="alternate" type="application/atom+xml"' in page
    assert 'href="/calls.atom?country=SE"' in page and 'href="/calls.rss?country=SE"' in page
    assert 'id="link-feed-atom"' in page and 'id="link-feed-rss"' in page
    assert 'value="@calls@smart.test" readonly' in page and 'id="remote-follow"' in page
    public_id = client.get("/calls").get_data(as_text=True).split('href="/calls/', 1)[1][:12]
    page = client.get(f"/calls/{public_id}").get_data(as_text=True)
    assert 'type="application/rss+xml"' in page and 'id="follow-calls"' in page


def test_feeds_carry_skills_place_dates_in_the_feeds_language(calls_app, client):
    german = label(calls_app, SOUND_MIXING, "de")
    assert german != label(calls_app, SOUND_MIXING, "en")
    feed = _atom(client, "?lang=de")
    titles = [e.findtext(f"{ATOM}title") for e in feed.iter(f"{ATOM}entry")]
    assert sorted(titles) == ["Painter in Ghent", "Sound for a theatre tour"]  # no coop call
    entry = next(e for e in feed.iter(f"{ATOM}entry") if "Sound" in e.findtext(f"{ATOM}title"))
    assert [c.get("label") for c in entry.iter(f"{ATOM}category")] == [german]
    assert [c.get("term") for c in entry.iter(f"{ATOM}category")] == [SOUND_MIXING]
    summary = entry.findtext(f"{ATOM}summary")
    assert "Ort: Malmö, Schweden" in summary and "Bewerbungsschluss" in summary, summary
    assert "15.04.2031" in summary and "01.05.2031 – 30.06.2031" in summary
    content = entry.findtext(f"{ATOM}content")
    assert content.startswith("<dl><dt>Ort</dt>") and "<b>sound</b>" in content
    rss = ET.fromstring(client.get("/calls.rss?lang=de").data)
    item = next(i for i in rss.iter("item") if "Sound" in i.findtext("title"))
    assert [c.text for c in item.iter("category")] == [german]
    assert "Bewerbungsschluss" in item.findtext("description")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (f"?skill={SOUND_MIXING}", ["Sound for a theatre tour"]),
        ("?country=BE", ["Painter in Ghent"]),
        ("?country=be", ["Painter in Ghent"]),
        ("?language=sv", ["Sound for a theatre tour"]),
        ("?language=nl&country=SE", []),
    ],
)
def test_feeds_filter_like_the_calls_page(calls_app, client, query, expected):
    for feed in (_atom(client, query),):
        assert [e.findtext(f"{ATOM}title") for e in feed.iter(f"{ATOM}entry")] == expected
    rss = ET.fromstring(client.get(f"/calls.rss{query}").data)
    assert [i.findtext("title") for i in rss.iter("item")] == expected


def test_previews_only_for_public_calls_and_members(calls_app, client):
    page = client.get("/members/anna").get_data(as_text=True)
    assert '<meta property="og:title" content="Anna Berg">' in page
    assert '<meta name="description" content="I mix sound.">' in page
    listing = client.get("/calls").get_data(as_text=True)
    public_id = listing.split('href="/calls/', 1)[1].split('"', 1)[0]
    page = client.get(f"/calls/{public_id}").get_data(as_text=True)
    assert 'property="og:description"' in page and 'og:type" content="article"' in page
    # A member signed in sees the coop-only call and member, without preview tags.
    client.post("/login", data={"username": "anna", "password": "a long enough password"})
    hidden = client.get("/members/hidden").get_data(as_text=True)
    assert (
        "Hidden One" in hidden
        and "og:" not in hidden
        and "Secret bio." not in hidden.split("</head>")[0]
    )
    listing = client.get("/calls").get_data(as_text=True)
    coop_id = listing.split("Members-only rigging")[0].rsplit('href="/calls/', 1)[1].split('"')[0]
    page = client.get(f"/calls/{coop_id}").get_data(as_text=True)
    head = page.split("</head>")[0]
    assert "Members-only rigging" in page and "og:" not in head and "Only for us" not in head
    assert 'id="follow-calls"' not in page  # no public feed carries it


class FakeServer:
    """A fediverse server: WebFinger for ``@bob`` with an OStatus subscribe template
    (``template=False``: none, like some servers)."""

    def __init__(self, template: bool = True) -> None:
        fake = self
        self.asked: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                fake.asked.append(self.path)
                resource = parse_qs(url.query).get("resource", [""])[0]
                if url.path != "/.well-known/webfinger" or not resource.startswith("acct:bob@"):
                    self.send_response(404)
                    self.end_headers()
                    return
                links: list[dict[str, str]] = [{"rel": "self", "href": f"{fake.base}/users/bob"}]
                if template:
                    links.append(
                        {
                            "rel": "http://ostatus.org/schema/1.0/subscribe",
                            "template": f"{fake.base}/authorize_interaction?uri={{uri}}",
                        }
                    )
                body = json.dumps({"subject": resource, "links": links}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/jrd+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.base = f"http://{self.host}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("template", [True, False])
def test_remote_follow_goes_through_the_visitors_webfinger(app, client, template):
    fake = FakeServer(template)
    try:
        page = client.get(f"/follow?account=@bob@{fake.host}").get_data(as_text=True)
    finally:
        fake.close()
    assert fake.asked and fake.asked[0].startswith("/.well-known/webfinger?resource=acct")
    href = page.split('id="link-follow-remote" href="', 1)[1].split('"', 1)[0]
    url = urlsplit(href.replace("&amp;", "&"))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{fake.base}/authorize_interaction"
    assert unquote(parse_qs(url.query)["uri"][0]) == "http://smart.test/actors/calls" or parse_qs(
        url.query
    )["uri"][0].endswith("calls")


def test_remote_follow_with_a_server_name_or_nonsense(app, client):
    page = client.get("/follow?account=example.social").get_data(as_text=True)
    assert 'href="http://example.social/authorize_interaction?uri=' in page
    response = client.get("/follow?account=not a server!")
    assert response.status_code == 422 and 'id="follow-error"' in response.get_data(as_text=True)
    assert 'id="follow-handle"' in client.get("/follow").get_data(as_text=True)


def test_the_home_page_links_the_feeds_and_the_follow_page(calls_app, client):
    page = client.get("/").get_data(as_text=True)
    assert 'rel="alternate" type="application/atom+xml"' in page
    assert 'href="/follow" id="link-follow-calls"' in page
