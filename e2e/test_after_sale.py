"""Issue 9 in a real browser: a buyer buys and sees a QR code under My tickets; the admin
enters the code at check-in and a second attempt is refused; the admin cancels the event and
the buyer's tickets show as refunded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from admin_flows import admin_api, pay_for_held, seat_id_of, sign_in
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.e2e


def test_ticket_check_in_and_cancellation(browser: Browser, base_url: str,
                                          set_provider_mode: object, artifacts: Path) -> None:
    set_provider_mode("success")  # type: ignore[operator]
    admin_ctx = browser.new_context(base_url=base_url)
    admin = admin_ctx.new_page()
    sign_in(admin, "/admin/events")
    # Set up through the admin API (the UI path is covered by test_admin.py).
    venue = admin_api(admin_ctx, "POST", "/api/admin/venues", {
        "name": "Door Hall", "sections": [{"name": "Main", "rows": 3, "cols": 6}]})
    title = f"Door Night {datetime.now(UTC):%H%M%S%f}"
    ev = admin_api(admin_ctx, "POST", "/api/admin/events", {
        "title": title, "startsAt": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "venueId": venue["id"], "status": "ON_SALE",
        "tiers": [{"name": "Standard", "price": 30000, "color": "#3b82f6"}]})
    event_id = ev["id"]

    buyer_ctx = browser.new_context(base_url=base_url)
    buyer = buyer_ctx.new_page()
    buyer.goto(f"/event/{event_id}")
    seats = ["button[aria-label^='Row B seat 3,']", "button[aria-label^='Row B seat 4,']"]
    for s in seats:
        expect(buyer.locator(s)).to_have_attribute("data-status", "available", timeout=30_000)
        buyer.locator(s).click()
        expect(buyer.locator(s)).to_have_attribute("data-status", "mine", timeout=5_000)
    order_id = pay_for_held(buyer_ctx, event_id, [seat_id_of(buyer, s) for s in seats])

    buyer.goto("/my-tickets")
    cards = buyer.locator(".ticket-card", has_text=title)
    expect(cards).to_have_count(2, timeout=15_000)
    expect(cards.first.locator("img.ticket-qr")).to_be_visible()
    src = cards.first.locator("img.ticket-qr").get_attribute("src") or ""
    assert src.startswith("data:image/svg+xml;base64,")
    code = cards.first.locator(".ticket-code").inner_text().strip()
    assert code.startswith("TK1.")
    buyer.screenshot(path=str(artifacts / "my-tickets.png"), full_page=True)
    pdf = buyer_ctx.request.get(f"/api/tickets/pdf?orderId={order_id}")  # the buyer cookie
    assert pdf.ok and pdf.body().startswith(b"%PDF")

    # The door: the first entry admits, the second is refused with who and when.
    admin.goto(f"/admin/events/{event_id}/checkin")
    admin.locator("#gate").fill("North")
    admin.locator("#gate").blur()
    admin.locator("#checkin-code").fill(code)
    admin.locator("#checkin-submit").click()
    result = admin.locator("#checkin-result")
    expect(result).to_have_attribute("data-ok", "true", timeout=10_000)
    expect(result).to_contain_text("ADMIT")
    admin.locator("#checkin-code").fill(code)
    admin.locator("#checkin-submit").click()
    expect(result).to_have_attribute("data-ok", "false", timeout=10_000)
    expect(result).to_contain_text("Already admitted")
    expect(result).to_contain_text("e2e-admin")
    admin.screenshot(path=str(artifacts / "admin-checkin.png"), full_page=True)

    # The organiser cancels; the job refunds in the background; buyers see it.
    admin.goto(f"/admin/events/{event_id}")
    admin.locator("#cancel-reason").fill("Storm warning")
    admin.locator("#cancel-confirm").fill(title)
    admin.locator("#cancel-event").click()
    expect(admin.locator("#event-status")).to_have_text("CANCELLED", timeout=15_000)
    expect(admin.locator("#job-progress")).to_contain_text("(DONE)", timeout=30_000)
    buyer.goto("/my-tickets")
    cards = buyer.locator(".ticket-card", has_text=title)
    expect(cards.first).to_contain_text("Event cancelled", timeout=15_000)
    statuses = cards.locator(".ticket-status")
    expect(statuses).to_have_count(2)
    for i in range(2):
        expect(statuses.nth(i)).to_have_attribute("data-status", "REFUNDED")
    expect(cards.locator("img.ticket-qr")).to_have_count(0)
    buyer.goto(f"/event/{event_id}")
    expect(buyer.locator("#event-notice")).to_contain_text("cancelled", timeout=15_000)
    buyer.screenshot(path=str(artifacts / "my-tickets-cancelled.png"), full_page=True)
    admin_ctx.close()
    buyer_ctx.close()
