"""Issue 4 in a real browser: every admin page refuses anyone not signed in; an admin builds a
venue from a generated grid, an event with two price tiers, opens sales; a buyer in another
browser buys a seat; the live dashboard shows the sale; closing sales makes the buyer's seat
map refuse new holds with a clear message."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from admin_flows import ADMIN_PASSWORD, ADMIN_USER, admin_api, pay_for_held, seat_id_of, sign_in
from booking_flows import screenshot, toast
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.e2e


def admin_routes() -> list[str]:
    """Every admin page route the app registers (so a new page is covered automatically)."""
    from ticketing_app.components.admin_layout import ADMIN_PAGES
    from ticketing_app.pages.admin import OPEN_ADMIN_ROUTES

    routes = [p.route for p in ADMIN_PAGES]
    assert all(r not in OPEN_ADMIN_ROUTES for r in routes)
    return [re.sub(r"\[[^\]]+\]", "1", r) for r in routes]


def test_every_admin_page_refuses_without_login(browser: Browser, base_url: str) -> None:
    routes = admin_routes()
    assert {"/admin", "/admin/events", "/admin/venues", "/admin/audit"} <= set(routes)
    # The server answers a page load with a redirect before serving anything...
    with httpx.Client(base_url=base_url, follow_redirects=False) as c:
        for path in routes:
            r = c.get(path, headers={"Accept": "text/html"})
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/admin/login?next=")
    # ...and a browser ends up on the login page with no admin content.
    page = browser.new_context(base_url=base_url).new_page()
    for path in routes:
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/admin/login/?\?next="), timeout=15_000)
        expect(page.locator("#sign-in")).to_be_visible()
        expect(page.locator("#event-list")).to_have_count(0)
    page.context.close()


def test_admin_runs_an_on_sale_and_sees_it_live(browser: Browser, base_url: str,
                                                set_provider_mode: object,
                                                artifacts: Path) -> None:
    set_provider_mode("success")  # type: ignore[operator]
    admin_ctx = browser.new_context(base_url=base_url)
    admin = admin_ctx.new_page()
    sign_in(admin, "/admin/venues")

    # A venue from a generated grid: 4 rows x 9 columns, aisle at column 5, gap at A1.
    venue = f"E2E Hall {datetime.now(UTC):%H%M%S%f}"
    admin.locator("#venue-name").fill(venue)
    admin.locator("#s1-name").fill("Stalls")
    admin.locator("#s1-rows").fill("4")
    admin.locator("#s1-cols").fill("9")
    admin.locator("#s1-gaps").fill("A1")
    admin.locator("#s1-aisle-cols").fill("5")
    admin.locator("#preview-grid").click()
    expect(admin.locator("#preview-summary")).to_contain_text("31 seats", timeout=15_000)
    expect(admin.locator("#layout-preview button")).to_have_count(31)
    admin.locator("#create-venue").click()
    expect(admin.locator("#venue-list")).to_contain_text(venue, timeout=15_000)

    # An event with two price tiers: Premium on row A, Standard everywhere else.
    admin.goto("/admin/events")
    title = f"E2E Night {datetime.now(UTC):%H%M%S%f}"
    admin.locator("#event-title").fill(title)
    when = (datetime.now(UTC) + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M")
    admin.locator("#event-starts").fill(when)
    option = admin.locator("#event-venue option", has_text=venue)
    expect(option).to_have_count(1, timeout=15_000)
    admin.locator("#event-venue").select_option(option.get_attribute("value"))
    admin.locator("#t1-name").fill("Premium")
    admin.locator("#t1-price").fill("90000")
    admin.locator("#t1-rows").fill("A")
    admin.locator("#t2-name").fill("Standard")
    admin.locator("#t2-price").fill("50000")
    admin.locator("#create-event").click()
    expect(admin).to_have_url(re.compile(r"/admin/events/\d+/?$"), timeout=15_000)
    event_id = int(admin.url.rstrip("/").rsplit("/", 1)[1])
    expect(admin.locator("#event-status")).to_have_text("DRAFT", timeout=15_000)
    admin.locator("#open-sales").click()
    expect(admin.locator("#event-status")).to_have_text("ON_SALE", timeout=15_000)
    admin.screenshot(path=str(artifacts / "admin-event.png"), full_page=True)

    # A buyer in another browser sees the event and buys a seat.
    buyer_ctx = browser.new_context(base_url=base_url)
    buyer = buyer_ctx.new_page()
    buyer.goto("/")
    buyer.get_by_role("link", name=title).click()
    expect(buyer).to_have_url(re.compile(rf"/event/{event_id}/?$"), timeout=15_000)
    premium = "button[aria-label^='Stalls Row A seat 2,']"
    expect(buyer.locator(premium)).to_contain_text("2", timeout=30_000)
    expect(buyer.locator(premium)).to_have_attribute("aria-label", re.compile("90,000"))
    expect(buyer.locator(premium)).to_have_attribute("data-status", "available")
    buyer.locator(premium).click()
    expect(buyer.locator(premium)).to_have_attribute("data-status", "mine", timeout=5_000)
    pay_for_held(buyer_ctx, event_id, [seat_id_of(buyer, premium)])
    expect(buyer.locator(premium)).to_have_attribute("data-status", "sold", timeout=5_000)

    # The admin's live dashboard shows the sale within a few seconds.
    admin.goto(f"/admin/events/{event_id}/dashboard")
    expect(admin.locator("#stat-seats_sold")).to_have_text("1", timeout=10_000)
    expect(admin.locator("#stat-orders_confirmed")).to_have_text("1", timeout=10_000)
    expect(admin.locator("#stat-revenue_text")).to_have_text("90,000 KRW", timeout=10_000)
    admin.screenshot(path=str(artifacts / "admin-dashboard.png"), full_page=True)

    # Closing sales: the buyer's seat map refuses new holds with a clear message.
    admin.goto(f"/admin/events/{event_id}")
    admin.locator("#close-sales").click()
    expect(admin.locator("#event-status")).to_have_text("CLOSED", timeout=15_000)
    other = "button[aria-label^='Stalls Row B seat 3,']"
    # The open page learns it live: the seat is shown not for sale (aria-disabled), and a
    # forced click is still refused by the server with a clear message.
    expect(buyer.locator(other)).to_have_attribute("data-status", "unavailable",
                                                   timeout=15_000)
    buyer.locator(other).click(force=True)
    expect(buyer.get_by_text("This event is not on sale.")).to_be_visible(timeout=5_000)
    # Every change above is in the audit log, with who did it.
    admin.goto("/admin/audit")
    table = admin.locator("#audit-table")
    for action in ("venue.create", "event.create", "event.status", "admin.login"):
        expect(table).to_contain_text(action, timeout=15_000)
    expect(table).to_contain_text("e2e-admin")
    admin_ctx.close()
    buyer_ctx.close()


def test_an_unpublished_event_is_not_found_on_buyer_pages(browser: Browser, base_url: str) -> None:
    """A draft's page shows "Event not found", never its title or seats; the admin sees it."""
    admin_ctx = browser.new_context(base_url=base_url)
    r = admin_ctx.request.post("/api/admin/login",
                               data={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
    assert r.ok, r.text()
    venue = admin_api(admin_ctx, "POST", "/api/admin/venues", {
        "name": f"Draft Hall {datetime.now(UTC):%H%M%S%f}",
        "sections": [{"name": "Stalls", "rows": 2, "cols": 4}]})
    title = f"Secret Night {datetime.now(UTC):%H%M%S%f}"
    ev = admin_api(admin_ctx, "POST", "/api/admin/events", {
        "title": title, "startsAt": (datetime.now(UTC) + timedelta(days=9)).isoformat(),
        "venueId": venue["id"], "tiers": [{"name": "Only", "price": 12345}]})
    assert ev["status"] == "DRAFT"
    buyer = browser.new_context(base_url=base_url).new_page()
    for path in (f"/event/{ev['id']}", f"/event/{ev['id']}/queue"):
        buyer.goto(path)
        expect(buyer.get_by_role("heading", name="Event not found")).to_be_visible(
            timeout=30_000)
        expect(buyer.get_by_text(title)).to_have_count(0)
        expect(buyer.locator("button[data-seat]")).to_have_count(0)
    admin = admin_ctx.new_page()
    admin.goto(f"/admin/events/{ev['id']}")
    expect(admin.locator("#event-status")).to_have_text("DRAFT", timeout=15_000)
    expect(admin.get_by_text(title).first).to_be_visible()
    buyer.context.close()
    admin_ctx.close()


def test_edit_an_existing_venue(browser: Browser, base_url: str) -> None:
    """The venue editor: open an existing venue from the list, add a seat, curve a row,
    renumber a row from the right, save; a new event on the venue shows the change on the
    buyer's seat map. Screenshot for docs/admin.md (E2E_UPDATE_DOCS=1 refreshes it)."""
    ctx = browser.new_context(base_url=base_url, locale="en-US",
                              viewport={"width": 1280, "height": 900})
    r = ctx.request.post("/api/admin/login",
                         data={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
    assert r.ok, r.text()
    name = f"Edit Hall {datetime.now(UTC):%H%M%S%f}"
    venue = admin_api(ctx, "POST", "/api/admin/venues", {
        "name": name, "sections": [{"name": "Stalls", "rows": 3, "cols": 6}]})
    page = ctx.new_page()
    page.goto("/admin/venues")
    page.locator(f"#edit-venue-{venue['id']}").click()
    expect(page).to_have_url(re.compile(rf"/admin/venues/{venue['id']}/?$"), timeout=15_000)
    expect(page.locator("#venue-title")).to_have_text(name, timeout=15_000)
    preview = page.locator("#venue-preview button[data-seat]")
    expect(preview).to_have_count(18, timeout=15_000)
    expect(page.locator("#venue-events-notice")).to_contain_text("No event uses this venue")

    # A seat at the right end of row C (clicking one of its seats picks the row).
    page.locator("#venue-preview button[title^='Stalls Row C seat 6']").click()
    expect(page.locator("#edit-row")).to_have_value("Stalls|3")
    page.locator("#add-count").fill("1")
    page.locator("#add-seats").click()
    expect(preview).to_have_count(19, timeout=10_000)
    expect(page.locator("#venue-preview button[title^='Stalls Row C seat 7']")).to_have_attribute(
        "data-x", "7")
    # Row A on an arc: its ends half a seat toward the stage, its middle where it was.
    page.locator("#edit-row").select_option("Stalls|1")
    page.locator("#curve-amount").fill("0.5")
    page.locator("#curve-row").click()
    end = page.locator("#venue-preview button[title^='Stalls Row A seat 1']")
    expect(end).to_have_attribute("data-y", "0.5", timeout=10_000)
    expect(page.locator("#venue-preview button[title^='Stalls Row A seat 3']")).to_have_attribute(
        "data-y", "1")
    # Row B numbered 101 up, from the right: nothing moves.
    page.locator("#edit-row").select_option("Stalls|2")
    page.locator("#renumber-start").fill("101")
    page.locator("#renumber-direction").select_option("rtl")
    page.locator("#renumber-row").click()
    expect(page.locator("#venue-preview button[title^='Stalls Row B seat 101']")).to_have_attribute(
        "data-x", "6", timeout=10_000)
    expect(page.locator("#unsaved-changes")).to_contain_text("1 added")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "admin-venue-editor", page.locator("#venue-editor"))
    page.locator("#save-layout").click()
    expect(toast(page, "saved")).to_be_visible(timeout=15_000)
    expect(page.locator("#unsaved-changes")).to_have_text("")
    expect(page.locator("#venue-summary")).to_contain_text("19 seats")

    # The buyer's view of a new event on the venue draws the edited layout.
    ev = admin_api(ctx, "POST", "/api/admin/events", {
        "title": f"Edited Night {datetime.now(UTC):%H%M%S%f}",
        "startsAt": (datetime.now(UTC) + timedelta(days=9)).isoformat(),
        "venueId": venue["id"], "status": "ON_SALE",
        "tiers": [{"name": "Standard", "price": 45000}]})
    buyer = browser.new_context(base_url=base_url, locale="en-US").new_page()
    buyer.goto(f"/event/{ev['id']}")
    seats = buyer.locator("#seat-map button[data-seat]")
    expect(seats).to_have_count(19, timeout=60_000)
    expect(buyer.locator("button[aria-label^='Stalls Row C seat 7,']")).to_be_visible()
    expect(buyer.locator("button[aria-label^='Stalls Row B seat 101,']")).to_be_visible()
    # Row A's end drawn half a seat (20 px) nearer the stage than its middle; row B below.
    def top(label: str) -> float:
        box = buyer.locator(f"button[aria-label^='{label},']").bounding_box()
        assert box is not None, label
        return float(box["y"])

    assert abs(top("Stalls Row A seat 3") - top("Stalls Row A seat 1") - 20) < 1.5
    assert abs(top("Stalls Row B seat 101") - top("Stalls Row A seat 3") - 40) < 1.5
    audit = admin_api(ctx, "GET", f"/api/admin/audit?target=venue:{venue['id']}")
    assert "venue.layout" in str(audit)
    buyer.context.close()
    ctx.close()
