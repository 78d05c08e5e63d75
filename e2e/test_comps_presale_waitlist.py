"""The box office in real Chromium (issue 18): an organiser issues a comp from the admin's
seat map and its seats are sold to the buyer's map; a presale access code opens the sale to a
buyer before the public sale; a buyer on a sold-out event's waitlist is offered a freed seat
by link and buys it."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from admin_flows import admin_api, sign_in
from booking_flows import new_event, open_event, screenshot, seat, toast
from playwright.sync_api import Browser, BrowserContext, expect

from ticketing_app.stack import Stack

pytestmark = pytest.mark.e2e


def _admin(browser: Browser, base_url: str, path: str) -> BrowserContext:
    ctx = browser.new_context(base_url=base_url, viewport={"width": 1200, "height": 900})
    sign_in(ctx.new_page(), path)
    return ctx


def test_issue_a_comp_from_the_box_office(browser: Browser, base_url: str,
                                          app_stack: Stack) -> None:
    event_id = new_event(app_stack, rows=2, cols=6)
    admin_ctx = _admin(browser, base_url, f"/admin/events/{event_id}/box-office")
    admin = admin_ctx.pages[0]
    grid = admin.locator("#office-seat-map")
    expect(grid.locator("button")).to_have_count(12, timeout=30_000)
    for label in ("Row B seat 3", "Row B seat 4"):
        grid.locator(f"button[aria-label^='{label}']").click()
    expect(admin.locator("#office-selected")).to_contain_text("2", timeout=10_000)
    admin.locator("#office-name").fill("Kim Minji")
    admin.locator("#office-email").fill("minji@example.com")
    admin.locator("#office-kind").select_option("comp")
    admin.locator("#office-issue").click()
    expect(toast(admin, "ticket(s) issued to Kim Minji")).to_be_visible(timeout=15_000)
    row = admin.locator("#office-orders tr[data-kind='COMP']")
    expect(row).to_have_count(1, timeout=10_000)
    expect(row).to_have_attribute("data-status", "CONFIRMED")
    expect(row).to_contain_text("minji@example.com")
    screenshot(admin, "admin-box-office")
    comps = admin_api(admin_ctx, "GET", f"/api/admin/events/{event_id}/box-office")
    assert [(o["kind"], o["total"], len(o["seatIds"])) for o in comps] == [("COMP", 0, 2)]
    # The buyer's map shows the comped seats sold.
    buyer_ctx = browser.new_context(base_url=base_url)
    buyer = open_event(buyer_ctx, event_id)
    for label in ("Row B seat 3", "Row B seat 4"):
        expect(seat(buyer, label)).to_have_attribute("data-status", "sold", timeout=10_000)
    buyer_ctx.close()
    admin_ctx.close()


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def test_a_presale_code_opens_the_sale_early(browser: Browser, base_url: str,
                                             app_stack: Stack) -> None:
    event_id = new_event(app_stack, rows=2, cols=6)
    admin_ctx = browser.new_context(base_url=base_url)
    sign_in(admin_ctx.new_page(), "/admin")
    now = datetime.now(UTC)
    admin_api(admin_ctx, "PUT", f"/api/admin/events/{event_id}/presale", {
        "presaleStartsAt": _iso(now - timedelta(minutes=5)),
        "publicSaleStartsAt": _iso(now + timedelta(days=2))})
    admin_api(admin_ctx, "POST", f"/api/admin/events/{event_id}/access-codes",
              {"code": "EARLY-BIRD", "maxUses": 10})
    buyer_ctx = browser.new_context(base_url=base_url, viewport={"width": 1100, "height": 800})
    page = open_event(buyer_ctx, event_id)
    expect(page.locator("#presale-notice")).to_be_visible(timeout=15_000)
    seat(page, "Row B seat 2").click()
    expect(toast(page, "presale")).to_be_visible(timeout=10_000)
    expect(seat(page, "Row B seat 2")).not_to_have_attribute("data-status", "mine")
    page.locator("#access-code").fill("wrong-code")
    page.locator("#access-code-submit").click()
    expect(toast(page, "not valid")).to_be_visible(timeout=10_000)
    page.locator("#access-code").fill("early-bird")
    page.locator("#access-code-submit").click()
    expect(page.locator("#presale-unlocked")).to_be_visible(timeout=10_000)
    screenshot(page, "presale-unlocked", page.locator("#presale"))
    seat(page, "Row B seat 2").click()
    expect(seat(page, "Row B seat 2")).to_have_attribute("data-status", "mine", timeout=10_000)
    codes = admin_api(admin_ctx, "GET", f"/api/admin/events/{event_id}/access-codes")
    assert [(c["code"], c["used"]) for c in codes] == [("EARLY-BIRD", 1)]
    buyer_ctx.close()
    admin_ctx.close()


def _offer(admin_ctx: BrowserContext, event_id: int, timeout: float = 60) -> dict[str, Any]:
    """The waitlist's first entry once the worker offered it a seat."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = admin_api(admin_ctx, "GET", f"/api/admin/events/{event_id}/waitlist")
        if line and line[0]["status"] == "OFFERED":
            return dict(line[0])
        time.sleep(0.5)
    raise AssertionError(f"no offer made: {line}")


def test_a_waitlisted_buyer_is_offered_a_freed_seat(browser: Browser, base_url: str,
                                                    app_stack: Stack,
                                                    set_provider_mode: Any) -> None:
    set_provider_mode("success")
    event_id = new_event(app_stack, rows=1, cols=2)
    admin_ctx = browser.new_context(base_url=base_url)
    sign_in(admin_ctx.new_page(), "/admin")
    seats = [s["id"] for s in admin_ctx.request.get(f"/api/events/{event_id}/seats").json()[
        "seats"]]
    # Sold out: the box office reserved every seat for two customers.
    held = [admin_api(admin_ctx, "POST", f"/api/admin/events/{event_id}/reservations",
                      {"seatIds": [sid], "name": f"Guest {i}", "email": f"g{i}@example.com"})
            for i, sid in enumerate(seats)]
    buyer_ctx = browser.new_context(base_url=base_url, viewport={"width": 1100, "height": 800})
    page = open_event(buyer_ctx, event_id)
    expect(page.locator("#waitlist-notice")).to_be_visible(timeout=15_000)
    page.locator("#waitlist-email").fill("waiting@example.com")
    page.locator("#waitlist-join").click()
    expect(page.locator("#waitlist-joined")).to_contain_text("1", timeout=10_000)
    screenshot(page, "waitlist-joined", page.locator("#waitlist"))
    # A seat is freed: the next in line is offered it, held for them (not for anyone else).
    admin_api(admin_ctx, "POST", f"/api/admin/reservations/{held[1]['orderId']}/release")
    offer = _offer(admin_ctx, event_id)
    assert offer["seatIds"] == [seats[1]] and offer["offerUrl"]
    expect(seat(page, "Row A seat 2")).to_have_attribute("data-status", "held", timeout=10_000)
    # The mailed link hands the seat to the browser that opens it, then the checkout.
    page.goto(urlsplit(offer["offerUrl"]).path)
    expect(page).to_have_url(re.compile(rf"/event/{event_id}/checkout/?$"), timeout=30_000)
    expect(page.locator(".checkout-line")).to_have_count(1, timeout=15_000)
    # The checkout asks who buys (name and e-mail); its form is drawn again once it shows its
    # event, so it is filled after that.
    expect(page.locator("#checkout-event")).to_be_visible(timeout=15_000)
    page.locator("#buyer-name").fill("Seo Waiting")
    page.locator("#buyer-email").fill("waiting@example.com")
    page.locator("#place-order").click()
    expect(page.locator("#checkout-success")).to_be_visible(timeout=30_000)
    expect(page.locator("#mail-note")).to_contain_text("waiting@example.com")
    line = admin_api(admin_ctx, "GET", f"/api/admin/events/{event_id}/waitlist")
    assert line[0]["status"] == "CLAIMED"
    buyer_ctx.close()
    admin_ctx.close()
