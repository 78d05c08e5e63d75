"""The buyer's experience in real Chromium, in Korean and English, on a desktop (1280x800) and
a phone (390x844): a purchase by keyboard alone (the cart drawer opens with focus inside,
keeps it there and closes on Escape), an accessible-seat purchase (a wheelchair space and a
companion seat), a phone page that never scrolls sideways outside the seat map's own zoomable
area, with touch targets of at least 44 px and one countdown on screen, a seat clicked while
offline that is not held when the connection comes back, and a page that says it is loading
instead of staying white.

With E2E_UPDATE_DOCS=1 the runs also write the README's screenshots (docs/screenshots).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from booking_flows import run, screenshot, stack_settings
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from ticketing_app.bootstrap import create_runtime
from ticketing_app.services.admin import GridSpec, TierSpec
from ticketing_app.stack import Stack

pytestmark = pytest.mark.e2e
LIVE_S = 10_000
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
LOCALES = {"ko": "ko-KR", "en": "en-US"}
# What the page says, per language (from the catalogs: the same words a reader sees).
WORDS = {
    "ko": {"wheelchair": "휠체어석", "companion": "동반자석", "mine": "내가 선점함",
           "offline": "연결이 끊겼습니다", "loading": "불러오는 중"},
    "en": {"wheelchair": "wheelchair space", "companion": "companion seat",
           "mine": "held by you", "offline": "Connection lost", "loading": "Loading"},
}


@pytest.fixture(params=[(v, lang) for v in VIEWPORTS for lang in LOCALES],
                ids=lambda p: f"{p[0]}-{p[1]}")
def buyer(request: pytest.FixtureRequest, browser: Browser, base_url: str
          ) -> Iterator[tuple[BrowserContext, str, str]]:
    """(a fresh browser context, its viewport's name, its language)."""
    view, lang = request.param
    ctx = browser.new_context(base_url=base_url, viewport=VIEWPORTS[view],
                              locale=LOCALES[lang], has_touch=view == "phone",
                              is_mobile=view == "phone")
    yield ctx, view, lang
    ctx.close()


async def _event(stack: Stack, **grid: Any) -> int:
    """Stalls of 3 x 10 (Gold row A) and a balcony under them; row C of the stalls has
    wheelchair spaces at its ends with companion seats beside them."""
    rt = await create_runtime(stack_settings(stack))
    try:
        venue = await rt.admin.create_venue("e2e", f"Hall {uuid.uuid4().hex[:6]}", [
            GridSpec("Stalls", 3, 10, wheelchair=frozenset({(3, 1), (3, 10)}),
                     companion=frozenset({(3, 2), (3, 9)}), **grid),
            GridSpec("Balcony", 2, 10, row_offset=4, restricted=frozenset({(1, 1)}))])
        ev = await rt.admin.create_event(
            "e2e", title=f"한여름 밤 {uuid.uuid4().hex[:4]}",
            starts_at=datetime.now(UTC) + timedelta(days=20), venue_id=int(venue.id or 0),
            tiers=[TierSpec("Gold", 90000, rows=(1,)), TierSpec("Standard", 52000)],
            status="ON_SALE", max_seats_per_buyer=6, hold_default_s=120, hold_max_s=300,
            hold_max_total_s=600)
    finally:
        await rt.close()
    return int(ev.id or 0)


def new_event(stack: Stack) -> int:
    return run(_event(stack))


def seat_ids(base_url: str, event_id: int) -> dict[str, int]:
    seats = httpx.get(f"{base_url}/api/events/{event_id}/seats").json()["seats"]
    return {s["label"]: int(s["id"]) for s in seats}


def seat_status(base_url: str, event_id: int, seat_id: int) -> str:
    seats = httpx.get(f"{base_url}/api/events/{event_id}/seats").json()["seats"]
    return next(s["status"] for s in seats if s["id"] == seat_id)


def seat_at(page: Page, ids: dict[str, int], label: str) -> Locator:
    """The seat button by its English label (from the API), whatever the page's language."""
    return page.locator(f'.tk-seat[data-seat="{ids[label]}"]')


def open_event(ctx: BrowserContext, event_id: int) -> Page:
    page = ctx.new_page()
    # Generous: a busy 2-core machine running a browser per test is slow to load a page.
    page.goto(f"/event/{event_id}", timeout=120_000)
    expect(page.locator("#seat-map .tk-seat").first).to_be_visible(timeout=120_000)
    return page


def focused(page: Page) -> dict[str, Any]:
    return dict(page.evaluate(
        "() => { const a = document.activeElement; return {id: a?.id || '', "
        "seat: a?.dataset?.seat || '', tag: a?.tagName || '', type: a?.type || '', "
        "inDrawer: !!a?.closest?.('#cart-drawer')}; }"))


def tab_until(page: Page, done: Callable[[dict[str, Any]], bool], most: int,
              back: bool = False) -> int:
    """Presses Tab (Shift+Tab) until `done(focused)`; how many presses it took."""
    for n in range(1, most + 1):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if done(focused(page)):
            return n
    raise AssertionError(f"not reached in {most} presses; focus on {focused(page)}")


def pay_by_keyboard(page: Page) -> None:
    """The checkout page by keyboard: any contact field it asks for is typed in, then the
    order is placed with Enter."""
    expect(page.locator("#place-order")).to_be_visible(timeout=20_000)
    # The form is drawn again once the checkout has loaded its event: type after that.
    expect(page.locator("#checkout-event")).to_be_visible(timeout=20_000)
    for _ in range(40):
        page.keyboard.press("Tab")
        f = focused(page)
        if f["id"] == "place-order":
            break
        if f["tag"] == "INPUT" and f["type"] == "email":
            page.keyboard.type("buyer@example.com")
        elif f["tag"] == "INPUT" and f["type"] in ("text", ""):
            page.keyboard.type("Kim Minji")
    else:
        raise AssertionError("the Place order button was not reached by keyboard")
    page.keyboard.press("Enter")
    expect(page.locator("#checkout-success")).to_be_visible(timeout=30_000)


def test_buy_by_keyboard_only(buyer: tuple[BrowserContext, str, str], app_stack: Stack,
                              base_url: str, set_provider_mode: Callable[[str | None], None]
                              ) -> None:
    ctx, view, lang = buyer
    set_provider_mode("success")
    event_id = new_event(app_stack)
    page = open_event(ctx, event_id)
    # The cart button is near the top of the page: a few Tabs, not ninety.
    assert tab_until(page, lambda f: f["id"] == "cart-button", 12) <= 12
    # On to the first seat (past the best-available and zoom controls), hold it and the one
    # to its right with Enter and the arrow keys.
    tab_until(page, lambda f: bool(f["seat"]), 30)
    first = focused(page)["seat"]
    page.keyboard.press("Enter")
    mine = page.locator(f'.tk-seat[data-seat="{first}"]')
    expect(mine).to_have_attribute("data-status", "mine", timeout=LIVE_S)
    expect(mine).to_have_attribute("aria-label", re.compile(WORDS[lang]["mine"]))
    page.keyboard.press("ArrowRight")
    second = focused(page)["seat"]
    page.keyboard.press("Enter")
    expect(page.locator(f'.tk-seat[data-seat="{second}"]')).to_have_attribute(
        "data-status", "mine", timeout=LIVE_S)
    expect(page.locator("#cart-button")).to_contain_text("2")
    # Back to the cart button; Enter opens the drawer with the focus inside it.
    tab_until(page, lambda f: f["id"] == "cart-button", 40, back=True)
    page.keyboard.press("Enter")
    drawer = page.locator("#cart-drawer")
    expect(drawer).to_be_visible()
    expect(drawer.locator(".cart-item")).to_have_count(2)
    page.wait_for_function("() => !!document.activeElement?.closest('#cart-drawer')")
    # Tab stays inside the drawer, however often it is pressed.
    for _ in range(12):
        page.keyboard.press("Tab")
        assert focused(page)["inDrawer"], focused(page)
    page.keyboard.press("Shift+Tab")
    assert focused(page)["inDrawer"]
    expect(page.locator("#hold-countdown:visible")).to_have_count(1)
    screenshot(page, f"cart-drawer-{view}-{lang}")
    # Escape closes it and gives the focus back to the Cart button.
    page.keyboard.press("Escape")
    expect(drawer).to_have_count(0)
    assert focused(page)["id"] == "cart-button"
    expect(page.locator("#hold-countdown:visible")).to_have_count(1)
    # Open again and go to checkout, all by keyboard.
    page.keyboard.press("Enter")
    expect(drawer).to_be_visible()
    tab_until(page, lambda f: f["id"] == "go-checkout", 12)
    page.keyboard.press("Enter")
    pay_by_keyboard(page)
    for seat in (first, second):
        assert seat_status(base_url, event_id, int(seat)) == "SOLD"


def test_accessible_seat_purchase(buyer: tuple[BrowserContext, str, str], app_stack: Stack,
                                  base_url: str,
                                  set_provider_mode: Callable[[str | None], None]) -> None:
    ctx, view, lang = buyer
    set_provider_mode("success")
    event_id = new_event(app_stack)
    ids = seat_ids(base_url, event_id)
    page = open_event(ctx, event_id)
    space = page.locator(f'.tk-seat[data-seat="{ids["Stalls Row C seat 1"]}"]')
    companion = page.locator(f'.tk-seat[data-seat="{ids["Stalls Row C seat 2"]}"]')
    # The map and its legend say what these seats are, in the reader's language.
    expect(space).to_have_attribute("aria-label", re.compile(WORDS[lang]["wheelchair"]))
    expect(companion).to_have_attribute("aria-label", re.compile(WORDS[lang]["companion"]))
    expect(page.locator("#seat-features")).to_contain_text(
        re.compile(WORDS[lang]["wheelchair"], re.IGNORECASE))
    # Without saying they need one, a buyer cannot hold a wheelchair space (the server
    # refuses it; the page explains).
    if view == "desktop":
        space.click()
        expect(page.locator("[data-sonner-toast]")).to_be_visible(timeout=LIVE_S)
        expect(space).to_have_attribute("data-status", "available")
    # "A wheelchair space and 1 companion seat beside it": one atomic hold.
    page.locator("#best-companions").select_option("1")
    page.locator("#best-wheelchair").click()
    expect(space).to_have_attribute("data-status", "mine", timeout=LIVE_S)
    expect(companion).to_have_attribute("data-status", "mine", timeout=LIVE_S)
    screenshot(page, f"accessible-{view}-{lang}")
    page.locator("#cart-button").click()
    page.locator("#go-checkout").click()
    expect(page.locator("#place-order")).to_be_visible(timeout=20_000)
    expect(page.locator("#checkout-event")).to_be_visible(timeout=20_000)
    for field, value in (("input[type=email]", "buyer@example.com"),
                         ("input[type=text]", "Kim Minji")):
        if page.locator(field).count():
            page.locator(field).first.fill(value)
    page.locator("#place-order").click()
    expect(page.locator("#checkout-success")).to_be_visible(timeout=30_000)
    assert seat_status(base_url, event_id, ids["Stalls Row C seat 1"]) == "SOLD"
    assert seat_status(base_url, event_id, ids["Stalls Row C seat 2"]) == "SOLD"


def _overflow(page: Page) -> int:
    """How far the page scrolls sideways (0 = not at all)."""
    return int(page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) "
        "- window.innerWidth"))


def _small_targets(page: Page) -> list[str]:
    """Visible controls outside the seat map smaller than 44 x 44 px."""
    return list(page.evaluate("""() => Array.from(document.querySelectorAll(
        'button, a[href], select, input, [role=button]'))
      .filter((el) => !el.closest('#seat-map-inner') && el.offsetParent !== null)
      .map((el) => [el, (el.tagName === 'INPUT' && el.closest('label') || el)
        .getBoundingClientRect()])
      .filter(([el, r]) => r.width > 0 && (r.height < 43.5 || r.width < 43.5))
      .map(([el, r]) => `${el.id || el.className || el.tagName}: `
        + `${Math.round(r.width)}x${Math.round(r.height)}`)"""))


@pytest.mark.parametrize("lang", list(LOCALES))
def test_phone_layout(browser: Browser, base_url: str, app_stack: Stack, lang: str) -> None:
    ctx = browser.new_context(base_url=base_url, viewport=VIEWPORTS["phone"],
                              locale=LOCALES[lang], has_touch=True, is_mobile=True)
    try:
        event_id = new_event(app_stack)
        ids = seat_ids(base_url, event_id)
        page = open_event(ctx, event_id)
        # Cart (0) on one line, a favicon.
        cart = page.locator("#cart-button")
        box = cart.bounding_box()
        assert box is not None and box["height"] < 60, box
        assert page.evaluate("() => { const b = document.getElementById('cart-button'); "
                             "return b.scrollWidth <= b.clientWidth + 1; }")
        icon = httpx.get(f"{base_url}/favicon.ico")
        assert icon.status_code == 200 and icon.content[:4] == b"\x00\x00\x01\x00"
        # The whole row of ten seats is on screen: the map fits the width, and only its own
        # area could scroll sideways.
        zoom = page.locator("#seat-map-zoom")
        expect(zoom).to_have_attribute("data-zoom", re.compile(r"0\."))
        last = page.locator(f'.tk-seat[data-seat="{ids["Stalls Row A seat 10"]}"]').bounding_box()
        assert last is not None and last["x"] + last["width"] <= 390, last
        assert _overflow(page) == 0
        # A first tap shows what a seat is and costs; a second tap holds it.
        seat = page.locator(f'.tk-seat[data-seat="{ids["Stalls Row A seat 5"]}"]')
        seat.tap()
        expect(page.locator("#seat-info")).to_be_visible()
        expect(page.locator("#seat-info-text")).to_contain_text("90,000")
        expect(seat).to_have_attribute("data-status", "available")
        seat.tap()
        expect(seat).to_have_attribute("data-status", "mine", timeout=LIVE_S)
        page.locator("#zoom-controls [data-zoom-step='in']").tap()
        page.locator(f'.tk-seat[data-seat="{ids["Stalls Row B seat 5"]}"]').tap()
        page.locator("#seat-info-hold").tap()
        expect(seat_at(page, ids, "Stalls Row B seat 5")).to_have_attribute(
            "data-status", "mine", timeout=LIVE_S)
        assert _overflow(page) == 0
        # One countdown on screen, with the cart closed and open; touch targets of 44 px.
        expect(page.locator("#hold-countdown:visible")).to_have_count(1)
        assert _small_targets(page) == []
        screenshot(page, f"event-phone-{lang}")
        cart.tap()
        expect(page.locator("#cart-drawer .cart-item")).to_have_count(2)
        expect(page.locator("#hold-countdown:visible")).to_have_count(1)
        assert _small_targets(page) == []
        assert _overflow(page) == 0
        screenshot(page, f"cart-phone-{lang}")
    finally:
        ctx.close()


@pytest.mark.parametrize("lang", list(LOCALES))
def test_desktop_screenshot(browser: Browser, base_url: str, app_stack: Stack,
                            lang: str) -> None:
    """The seat map on a desktop, with tiers, marks and the legend (the README's picture)."""
    ctx = browser.new_context(base_url=base_url, viewport=VIEWPORTS["desktop"],
                              locale=LOCALES[lang])
    try:
        event_id = new_event(app_stack)
        ids = seat_ids(base_url, event_id)
        page = open_event(ctx, event_id)
        # Sections stack as the admin preview draws them: the balcony under the stalls, its
        # rows lettered on from the stalls' (D, E: no letter skipped).
        stalls = page.locator('[data-section="Stalls"]').bounding_box()
        balcony = page.locator('[data-section="Balcony"]').bounding_box()
        assert stalls and balcony and balcony["y"] >= stalls["y"] + stalls["height"]
        assert "Balcony Row D seat 1" in ids and "Balcony Row E seat 1" in ids
        page.locator(f'.tk-seat[data-seat="{ids["Stalls Row B seat 5"]}"]').click()
        expect(seat_at(page, ids, "Stalls Row B seat 5")).to_have_attribute(
            "data-status", "mine", timeout=LIVE_S)
        page.locator(f'.tk-seat[data-seat="{ids["Stalls Row A seat 6"]}"]').hover()
        expect(page.locator("#seat-info-text")).to_contain_text("90,000")
        assert _overflow(page) == 0
        screenshot(page, f"event-desktop-{lang}")
    finally:
        ctx.close()


@pytest.mark.parametrize("view", list(VIEWPORTS))
def test_a_seat_clicked_offline_is_not_held_later(browser: Browser, base_url: str,
                                                 app_stack: Stack, view: str) -> None:
    ctx = browser.new_context(base_url=base_url, viewport=VIEWPORTS[view], locale="en-US")
    try:
        event_id = new_event(app_stack)
        ids = seat_ids(base_url, event_id)
        page = open_event(ctx, event_id)
        seat_id = ids["Stalls Row B seat 4"]
        seat = page.locator(f'.tk-seat[data-seat="{seat_id}"]')
        ctx.set_offline(True)
        notice = page.locator("#connection-state")
        expect(notice).to_have_attribute("data-offline", "true", timeout=10_000)
        expect(notice).to_contain_text(WORDS["en"]["offline"])
        expect(notice).not_to_contain_text("ws://")
        seat.click()
        page.wait_for_timeout(500)
        ctx.set_offline(False)
        expect(notice).to_have_attribute("data-offline", "false", timeout=30_000)
        # The connection is back and working (another seat holds at once), and the seat
        # clicked while offline was not held, neither then nor now.
        other = page.locator(f'.tk-seat[data-seat="{ids["Stalls Row B seat 7"]}"]')
        other.click()
        expect(other).to_have_attribute("data-status", "mine", timeout=LIVE_S)
        expect(seat).to_have_attribute("data-status", "available")
        assert seat_status(base_url, event_id, seat_id) == "AVAILABLE"
        # A click that reaches the server long after it was made (queued while the page had
        # not noticed the drop) is dropped there too: here its time is a minute old.
        page.evaluate("() => { window.tkSkew = (window.tkSkew || 0) - 60000; }")
        seat.click()
        expect(page.locator("[data-sonner-toast]").filter(
            has_text="connection was lost")).to_be_visible(timeout=LIVE_S)
        assert seat_status(base_url, event_id, seat_id) == "AVAILABLE"
    finally:
        ctx.close()


def test_a_page_says_it_is_loading_before_its_script_runs(base_url: str) -> None:
    """The HTML a slow phone shows before the JavaScript has arrived: a loading notice in
    both languages (CSS shows the reader's), not a white page."""
    html = httpx.get(f"{base_url}/event/1").text
    assert 'id="page-loading"' in html
    assert WORDS["ko"]["loading"] in html and WORDS["en"]["loading"] in html
