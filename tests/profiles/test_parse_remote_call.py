"""Parsing a partner's call Page: the author may come as a string, a list or an object."""

from __future__ import annotations

import pytest

from federation.errors import BadRequest
from profiles.ap.mapping import parse_call

PAGE = {
    "id": "https://smart.de/calls/abc",
    "type": "Page",
    "name": "Licht für eine Tanztournee",
    "content": "<p>Wir suchen <script>x()</script>eine Lichtdesignerin.</p>",
    "inLanguage": "de",
}


@pytest.mark.parametrize(
    "attributed_to",
    [
        "https://smart.de/members/mia",
        ["https://smart.de/members/mia"],
        [{"type": "Person", "id": "https://smart.de/members/mia"}],
    ],
)
def test_author_forms(attributed_to) -> None:
    values = parse_call({**PAGE, "attributedTo": attributed_to})
    assert values.author_ap_id == "https://smart.de/members/mia"
    assert "<script" not in values.description


def test_author_on_another_host_is_refused() -> None:
    with pytest.raises(BadRequest, match="own host"):
        parse_call({**PAGE, "attributedTo": ["https://evil.example/u/x"]})
