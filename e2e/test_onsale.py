"""On-sale features in a real browser: the waiting room admits a buyer into the seat map (after
the page solved the bot check in Chromium), and the seat page's best-available control holds
seats together."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from admin_flows import sign_in
from playwright.sync_api import Browser, expect

from ticketing_app.bootstrap import create_runtime
from ticketing_app.domain.pow import DEFAULT_BITS
from ticketing_app.services.admin import GridSpec, TierSpec
from ticketing_app.services.onsale_settings import OnSaleSettings
from ticketing_app.settings import Settings
from ticketing_app.stack import Stack

pytestmark = pytest.mark.e2e
T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Playwright's sync API keeps an event loop running in this thread: use another."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _settings(stack: Stack) -> Settings:
    return Settings(**{k.lower(): v for k, v in stack.env().items()
                       if k.lower() in Settings.model_fields})


async def _new_event(stack: Stack, **onsale: Any) -> int:
    """A fresh event of its own, so other browser tests' events stay untouched."""
    rt = await create_runtime(_settings(stack))
    try:
        venue = await rt.admin.create_venue("e2e", f"Hall {uuid.uuid4().hex[:6]}",
                                            [GridSpec("Main", 4, 10)])
        ev = await rt.admin.create_event(
            "e2e", title=f"On-sale night {uuid.uuid4().hex[:4]}",
            starts_at=datetime.now(UTC) + timedelta(days=3), venue_id=int(venue.id or 0),
            tiers=[TierSpec("Gold", 90000, rows=(1, 2)), TierSpec("Standard", 50000)],
            status="ON_SALE")
    finally:
        await rt.close()
    event_id = int(ev.id or 0)
    if onsale:
        await _configure(stack, event_id, **onsale)
    return event_id


async def _configure(stack: Stack, event_id: int, **onsale: Any) -> None:
    """What the organiser's switches do."""
    rt = await create_runtime(_settings(stack))
    try:
        await rt.onsale.update("e2e", event_id, OnSaleSettings(**onsale))
    finally:
        await rt.close()


@pytest.fixture
def queued_event(app_stack: Stack, base_url: str) -> Iterator[int]:
    """An event whose waiting room is on with admission paused, and three buyers already
    queued ahead of whoever comes next. No bot check here (difficulty 0): the test below
    it is about the queue; the one after it solves the check."""
    event_id = _run(_new_event(app_stack, waiting_room=True, waiting_room_rate=0,
                               waiting_room_difficulty=0))
    for n in range(3):
        r = httpx.post(f"{base_url}/api/events/{event_id}/queue",
                       headers={"X-Caller-Id": f"early-{uuid.uuid4().hex[:6]}-{n}"})
        assert r.status_code == 200 and r.json()["status"] == "waiting", r.text
    yield event_id


def test_waiting_room_admits_the_buyer_into_the_seat_map(
    browser: Browser, base_url: str, app_stack: Stack, queued_event: int,
) -> None:
    page = browser.new_context(base_url=base_url).new_page()
    # Straight to the seats while the room is on: sent to the waiting room instead.
    page.goto(f"/event/{queued_event}")
    page.wait_for_url(f"**/event/{queued_event}/queue", timeout=30_000)
    room = page.locator("#waiting-room")
    expect(room).to_have_attribute("data-status", "waiting", timeout=30_000)
    expect(page.locator("#queue-position")).to_have_text("4")
    expect(page.locator("#queue-ahead")).to_have_text("3")
    expect(page.locator("#queue-wait")).to_contain_text("paused")
    # A reload keeps the place.
    page.reload()
    expect(room).to_have_attribute("data-status", "waiting", timeout=30_000)
    expect(page.locator("#queue-position")).to_have_text("4")
    # The organiser lets one buyer a second in: the page updates live (an estimate, fewer
    # people ahead), then takes the buyer to the seat map.
    _run(_configure(app_stack, queued_event, waiting_room_rate=1))
    expect(page.locator("#queue-wait")).to_contain_text("about", timeout=10_000)
    expect(page.locator("#queue-ahead")).not_to_have_text("3", timeout=10_000)
    page.wait_for_url(f"**/event/{queued_event}", timeout=30_000)
    seat = page.locator("button[aria-label^='Row C seat 5,']")
    expect(seat).to_have_attribute("data-status", "available", timeout=30_000)
    seat.click()
    expect(seat).to_have_attribute("data-status", "mine", timeout=5_000)


# Records every status the waiting-room page shows (a fast solve may show "checking" for less
# time than an assertion polls).
STATUS_RECORDER = """
window.__roomStatuses = [];
setInterval(() => {
  const el = document.getElementById("waiting-room");
  const s = el ? el.getAttribute("data-status") : null;
  const seen = window.__roomStatuses;
  if (s && seen[seen.length - 1] !== s) seen.push(s);
}, 5);
"""


def test_waiting_room_page_solves_the_bot_check_in_the_browser(
    browser: Browser, base_url: str, app_stack: Stack,
) -> None:
    """The default difficulty, solved by the page's WebCrypto solver in Chromium: the page
    says it is checking the browser, joins the queue with the solution, keeps the place on a
    reload without solving again, and takes the buyer to the seats once admitted."""
    event_id = _run(_new_event(app_stack, waiting_room=True, waiting_room_rate=0))
    r = httpx.get(f"{base_url}/api/events/{event_id}/queue/challenge",
                  headers={"X-Caller-Id": "e2e-probe"})
    assert r.json()["difficulty"] == DEFAULT_BITS
    r = httpx.post(f"{base_url}/api/events/{event_id}/queue",
                   headers={"X-Caller-Id": "e2e-no-solution"})
    assert r.status_code == 401, r.text  # a script without the solution gets no place
    ctx = browser.new_context(base_url=base_url)
    ctx.add_init_script(STATUS_RECORDER)
    page = ctx.new_page()
    started = time.monotonic()
    page.goto(f"/event/{event_id}")
    page.wait_for_url(f"**/event/{event_id}/queue", timeout=30_000)
    room = page.locator("#waiting-room")
    expect(room).to_have_attribute("data-status", "waiting", timeout=60_000)
    print(f"from the seat page to a place, bot check included: "
          f"{time.monotonic() - started:.1f} s (difficulty {DEFAULT_BITS} bits)")
    statuses = page.evaluate("window.__roomStatuses")
    assert "checking" in statuses and statuses[-1] == "waiting", statuses
    assert "check_failed" not in statuses
    expect(page.locator("#queue-position")).to_have_text("1")
    # A reload keeps the place, with no second check.
    page.reload()
    expect(room).to_have_attribute("data-status", "waiting", timeout=30_000)
    expect(page.locator("#queue-position")).to_have_text("1")
    assert "checking" not in page.evaluate("window.__roomStatuses")
    _run(_configure(app_stack, event_id, waiting_room_rate=5))
    page.wait_for_url(f"**/event/{event_id}", timeout=30_000)
    seat = page.locator("button[aria-label^='Row B seat 3,']")
    expect(seat).to_have_attribute("data-status", "available", timeout=30_000)
    seat.click()
    expect(seat).to_have_attribute("data-status", "mine", timeout=5_000)
    ctx.close()


def test_organiser_sets_the_bot_check_on_the_event_page(
    browser: Browser, base_url: str, app_stack: Stack,
) -> None:
    """The difficulty is one of the event's settings: 0 switches the check off at once."""
    event_id = _run(_new_event(app_stack, waiting_room=True))
    url = f"{base_url}/api/events/{event_id}/queue"
    assert httpx.post(url, headers={"X-Caller-Id": "e2e-before"}).status_code == 401
    admin = browser.new_context(base_url=base_url).new_page()
    sign_in(admin, f"/admin/events/{event_id}")
    bits = admin.locator("#pow-bits")
    expect(bits).to_have_value(str(DEFAULT_BITS), timeout=30_000)
    bits.fill("0")
    admin.get_by_role("button", name="Save settings").click()
    expect(admin.get_by_text("Saved; buyers see the change now.")).to_be_visible(timeout=10_000)
    r = httpx.get(f"{url}/challenge", headers={"X-Caller-Id": "e2e-after"})
    assert r.json()["difficulty"] == 0, r.text
    r = httpx.post(url, headers={"X-Caller-Id": "e2e-after"})
    assert r.status_code == 200 and r.json()["position"] == 1, r.text
    admin.context.close()


def test_best_available_from_the_seat_page(
    browser: Browser, base_url: str, app_stack: Stack,
) -> None:
    event_id = _run(_new_event(app_stack, orphan_rule=True, max_seats_per_buyer=20))
    page = browser.new_context(base_url=base_url).new_page()
    page.goto(f"/event/{event_id}")
    expect(page.locator("button[aria-label^='Row A seat 5,']")).to_have_attribute(
        "data-status", "available", timeout=30_000)
    expect(page.locator("#best-tier option")).to_have_count(3, timeout=10_000)

    def ask(quantity: str, tier: str) -> None:
        page.select_option("#best-quantity", quantity)
        page.select_option("#best-tier", tier)
        page.click("#best-find")

    ask("4", "Gold")  # the front row, centred
    expect(page.locator("#best-message")).to_have_text("Held for you: Row A seats 4-7.",
                                                       timeout=10_000)
    for col in (4, 5, 6, 7):
        expect(page.locator(f"button[aria-label^='Row A seat {col},']")).to_have_attribute(
            "data-status", "mine", timeout=5_000)
    expect(page.locator("button[aria-label^='Row A seat 3,']")).to_have_attribute(
        "data-status", "available")
    ask("8", "Gold")  # row A has no 8 together: row B, centred
    expect(page.locator("#best-message")).to_have_text("Held for you: Row B seats 2-9.",
                                                       timeout=10_000)
    expect(page.locator("button[aria-label^='Row B seat 9,']")).to_have_attribute(
        "data-status", "mine", timeout=5_000)
    ask("4", "Gold")  # none left together: said clearly
    expect(page.locator("#best-message")).to_have_text(
        "No 4 seats are left together in tier Gold; the largest block left is 3.",
        timeout=10_000)
