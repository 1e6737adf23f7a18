"""Remote HTML reduced to an allow-list."""

from __future__ import annotations

import pytest

from federation.sanitize import plain_text, sanitize_html


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<p onclick="alert(1)">x</p>',
        "<iframe src=https://evil.example></iframe>",
        "<style>body{display:none}</style>",
        '<svg onload="alert(1)"></svg>',
        "<scr<script>ipt>alert(1)</script>",
    ],
)
def test_attacks_stripped(attack):
    out = sanitize_html(f"<p>hello {attack}</p>")
    lowered = out.lower()
    for needle in ("<script", "onerror", "onclick", "onload", "javascript:", "<iframe", "<style"):
        assert needle not in lowered
    assert "hello" in out


def test_allowed_markup_kept_and_links_forced_safe():
    out = sanitize_html(
        '<p>A <strong>b</strong> <em>c</em><br><a href="https://x.example/" rel="me" '
        'target="_blank">link</a></p><ul><li>i</li></ul>'
    )
    assert "<strong>b</strong>" in out and "<em>c</em>" in out and "<li>i</li>" in out
    assert '<a href="https://x.example/" rel="nofollow noopener noreferrer">link</a>' in out
    assert "target" not in out


def test_relative_and_protocol_relative_links_dropped():
    out = sanitize_html('<a href="/x">a</a><a href="//evil.example/">b</a>')
    assert "href" not in out


def test_plain_text():
    assert plain_text("<p>Bob &amp; <b>Alice</b></p><p>x<br>y</p><script>evil()</script>") == (
        "Bob & Alice x y"
    )
    assert plain_text("  a \n\t b ") == "a b"
    assert len(plain_text("x" * 500, max_chars=100)) == 100
    assert plain_text(None) == ""
