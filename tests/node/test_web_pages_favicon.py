"""The node has an icon, linked from every page and at /favicon.ico."""

from __future__ import annotations


def test_favicon_is_linked_and_served(client) -> None:
    page = client.get("/about").get_data(as_text=True)
    assert 'rel="icon" type="image/svg+xml" href="/static/favicon.svg"' in page
    for path in ("/favicon.ico", "/static/favicon.svg"):
        with client.get(path) as r:
            assert r.status_code == 200 and r.mimetype == "image/svg+xml"
            assert r.get_data(as_text=True).startswith("<svg")
