"""Signing in with a real browser: the error for a wrong password, then the member's home page."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_sign_in_wrong_then_right_password(page, live_node, console, sign_in):
    live_node.add_member("anna", name="Anna Berg", country="SE")

    console.allow("/login")  # 401 for a wrong password
    sign_in(page, live_node, "anna", "not the password")
    assert page.url.startswith(live_node.url("/login"))
    assert page.locator("p.error[role=alert]").inner_text() == "Wrong user name or password."

    sign_in(page, live_node, "anna")
    assert page.url == live_node.url("/")
    assert page.locator("h1").inner_text() == "Welcome, Anna Berg"
    assert "Welcome back, Anna Berg." in page.locator(".flash").inner_text()
    assert page.locator("header.site nav").get_by_text("Sign out").is_visible()

    # The browser's language picks the UI language until the member chooses one.
    page.goto(live_node.url("/login?lang=fr"))
    assert page.locator("h1").inner_text() == "Se connecter"
    console.assert_clean()


def test_language_switcher_in_the_header(page, live_node, console):
    page.goto(live_node.url("/calls"))
    assert page.locator("html").get_attribute("lang") == "en"
    page.select_option("#lang-select", "nl")
    page.click("form.lang-switch button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "nl"
    assert page.locator("h1").inner_text() == "Projectoproepen"
    assert "lang=nl" in page.url
    # Remembered: the next page without ?lang= is still Dutch.
    page.goto(live_node.url("/directory"))
    assert page.locator("html").get_attribute("lang") == "nl"
    console.assert_clean()
