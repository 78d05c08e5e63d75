"""The booking page in two browsers: a hold in one shows in the other."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.e2e


def test_hold_in_one_browser_shows_in_the_other(browser: Browser, base_url: str) -> None:
    alice = browser.new_context(base_url=base_url).new_page()
    bob = browser.new_context(base_url=base_url).new_page()
    alice.goto("/event/2")
    bob.goto("/event/2")
    seat = "button[aria-label^='Row B seat 5,']"
    expect(alice.locator(seat)).to_have_attribute("data-status", "available", timeout=30_000)
    expect(bob.locator(seat)).to_have_attribute("data-status", "available", timeout=30_000)
    alice.locator(seat).click()
    expect(alice.locator(seat)).to_have_attribute("data-status", "mine", timeout=2_000)
    # Correctness deadline, not a speed check: the other browser sees it within 2 s.
    expect(bob.locator(seat)).to_have_attribute("data-status", "held", timeout=2_000)
    alice.locator(seat).click()
    expect(bob.locator(seat)).to_have_attribute("data-status", "available", timeout=2_000)
