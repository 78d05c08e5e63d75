"""A buyer's view of an event's status and of their order away from their browser (issue 17),
in real Chromium on a desktop (1280x800) and a phone (390x844), in English and Korean:

- a cancelled event shows its status and reason in the list and on its page, and refuses
  holds from the first render (no seat offered, best available off); a page open during the
  cancellation says so at once (live sync) and explains the holds that vanished;
- the confirmation mail (read from the real SMTP sink) carries a link that opens the tickets
  in a fresh browser with no cookie; the same mail is readable at /api/dev/mail;
- "find my order" by e-mail and reference mails the link, with one answer for every case.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from booking_flows import cancel_event, new_event, open_event, screenshot
from playwright.sync_api import Browser, BrowserContext, expect

from ticketing_app.stack import Stack

pytestmark = pytest.mark.e2e
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
LOCALES = {"en": "en-US", "ko": "ko-KR"}
TEXT = {
    "en": {"cancelled": "Cancelled", "reason": "Reason:", "live": "while this page was open",
           "found": "we have sent a link"},
    "ko": {"cancelled": "취소됨", "reason": "사유:", "live": "이 페이지를 보는 동안",
           "found": "링크를 보냈습니다"},
}
LINK = re.compile(r"https?://[^\s]+/order/(o1-[A-Za-z0-9_-]+)")
CASES = [("desktop", "en"), ("phone", "ko")]


@pytest.fixture
def new_context(browser: Browser, base_url: str) -> Iterator[Callable[..., BrowserContext]]:
    made: list[BrowserContext] = []

    def make(view: str = "desktop", lang: str = "en") -> BrowserContext:
        ctx = browser.new_context(base_url=base_url, viewport=VIEWPORTS[view],  # type: ignore[arg-type]
                                  locale=LOCALES[lang])
        made.append(ctx)
        return ctx

    yield make
    for c in made:
        c.close()


def wait_mail(sink: Any, address: str, count: int = 1, timeout: float = 60
              ) -> list[EmailMessage]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mails = sink.to(address)
        if len(mails) >= count:
            return list(mails)
        time.sleep(0.2)
    raise AssertionError(f"no mail to {address} within {timeout}s")


def link_in(mail: EmailMessage) -> str:
    m = LINK.search(mail.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert m, mail
    return m.group(0)


@pytest.mark.parametrize(("view", "lang"), CASES)
def test_a_cancelled_event_shows_its_reason_and_refuses_holds_from_the_first_render(
        new_context: Callable[..., BrowserContext], app_stack: Stack, view: str,
        lang: str) -> None:
    event_id = new_event(app_stack, rows=2, cols=4)
    reason = {"en": "The hall flooded", "ko": "공연장 침수"}[lang]
    cancel_event(app_stack, event_id, reason)
    page = new_context(view, lang).new_page()
    page.goto("/")
    card = page.locator(f".event-card[data-event='{event_id}']")
    expect(card.locator(".event-status")).to_have_text(TEXT[lang]["cancelled"],
                                                       timeout=30_000)
    expect(card.locator(".event-reason")).to_have_text(f"{TEXT[lang]['reason']} {reason}")
    page.goto(f"/event/{event_id}")
    page.wait_for_selector("#seat-map button", timeout=30_000)
    # The first render already offers no seat: nothing to click to find out.
    statuses = page.locator("#seat-map button").evaluate_all(
        "els => els.map(e => [e.dataset.status, e.getAttribute('aria-disabled')])")
    assert statuses and all(s == ["unavailable", "true"] for s in statuses), statuses
    expect(page.locator("#best-find")).to_be_disabled()
    notice = page.locator("#event-notice")
    expect(notice).to_have_attribute("data-status", "CANCELLED")
    expect(page.locator("#event-reason")).to_have_text(f"{TEXT[lang]['reason']} {reason}")
    # A click on a seat holds nothing (aria-disabled: Playwright must be forced to click).
    page.locator("#seat-map button").first.click(force=True)
    expect(page.locator("#cart-button")).to_contain_text("0")
    screenshot(page, f"event-cancelled-{view}-{lang}")


@pytest.mark.parametrize(("view", "lang"), [("desktop", "ko"), ("phone", "en")])
def test_a_page_open_during_the_cancellation_says_so_at_once(
        new_context: Callable[..., BrowserContext], app_stack: Stack, view: str,
        lang: str) -> None:
    event_id = new_event(app_stack, rows=2, cols=4)
    page = open_event(new_context(view, lang), event_id)
    target = page.locator("#seat-map button").nth(5)
    target.click()
    expect(target).to_have_attribute("data-status", "mine", timeout=10_000)
    cancel_event(app_stack, event_id, "Storm warning")
    notice = page.locator("#event-notice")
    expect(notice).to_have_attribute("data-live", "true", timeout=10_000)
    expect(notice).to_contain_text(TEXT[lang]["live"])
    expect(page.locator("#event-reason")).to_contain_text("Storm warning")
    expect(target).to_have_attribute("data-status", "unavailable", timeout=10_000)
    expect(page.locator("#seat-map button[data-status='available']")).to_have_count(0)
    expect(page.locator("#best-find")).to_be_disabled()
    expect(page.locator("#cart-button")).to_contain_text("0")


def _buy_in_browser(ctx: BrowserContext, event_id: int, email: str) -> str:
    """Holds one seat, checks out with a name and address (payment approved): the page."""
    page = open_event(ctx, event_id)
    first = page.locator("#seat-map button").first
    first.click()
    expect(first).to_have_attribute("data-status", "mine", timeout=10_000)
    page.goto(f"/event/{event_id}/checkout")
    expect(page.locator("#place-order")).to_be_visible(timeout=15_000)
    expect(page.locator("#checkout-event")).to_be_visible(timeout=15_000)
    page.locator("#buyer-name").fill("Hong Gildong")
    page.locator("#buyer-email").fill("someone@nodot")  # the browser lets it through
    page.locator("#place-order").click()
    expect(page.locator("#buyer-email-error")).not_to_be_empty()
    page.locator("#buyer-email").fill(email)
    page.locator("#place-order").click()
    expect(page.locator("#checkout-success")).to_be_visible(timeout=30_000)
    expect(page.locator("#mail-note")).to_contain_text(email)
    return str(page.locator("#order-reference").inner_text())


@pytest.mark.parametrize(("view", "lang"), CASES)
def test_the_mail_link_opens_the_tickets_in_a_fresh_browser(
        new_context: Callable[..., BrowserContext], app_stack: Stack, mail_sink: Any,
        set_provider_mode: Callable[[str | None], None], base_url: str, view: str,
        lang: str) -> None:
    set_provider_mode("success")
    event_id = new_event(app_stack, rows=1, cols=4)
    email = f"fresh-{uuid.uuid4().hex[:6]}@example.com"
    buyer = new_context(view, lang)
    title = httpx.get(f"{base_url}/api/events/{event_id}").json()["title"]
    reference = _buy_in_browser(buyer, event_id, email)
    checkout = buyer.pages[-1]
    expect(checkout.locator("#checkout-event")).to_have_text(title)
    expect(checkout.locator("#checkout-when")).to_contain_text("Hall")  # the venue
    [mail] = wait_mail(mail_sink, email)
    url = link_in(mail)
    # Another device: a fresh browser context, no cookie, the other viewport.
    other = new_context("phone" if view == "desktop" else "desktop", lang)
    assert other.cookies() == []
    tickets = other.new_page()
    tickets.goto(url)
    expect(tickets.locator("#order-link")).to_have_attribute("data-outcome", "ok",
                                                             timeout=30_000)
    expect(tickets.locator("#order-reference")).to_have_text(reference)  # same language
    expect(tickets.locator("#order-event")).to_have_text(title)
    expect(tickets.locator(".ticket-card")).to_have_count(1)
    expect(tickets.locator(".ticket-qr")).to_be_visible()
    screenshot(tickets, f"order-link-{view}-{lang}")
    # A changed link opens nothing.
    tickets.goto(url[:-2] + ("AA" if not url.endswith("AA") else "BB"))
    expect(tickets.locator("#order-link-problem")).to_have_attribute("data-outcome", "invalid",
                                                                     timeout=30_000)
    # The development mail page shows the same mail, its link clickable.
    tickets.goto("/api/dev/mail")
    expect(tickets.locator(f"a[href='{url}']")).to_have_count(1)


def test_find_my_order_by_email_and_reference(
        new_context: Callable[..., BrowserContext], app_stack: Stack, mail_sink: Any,
        set_provider_mode: Callable[[str | None], None], base_url: str) -> None:
    set_provider_mode("success")
    event_id = new_event(app_stack, rows=1, cols=4)
    email = f"find-{uuid.uuid4().hex[:6]}@example.com"
    who = {"X-Caller-Id": f"finder-{uuid.uuid4().hex[:6]}"}
    seats = [s["id"] for s in httpx.get(f"{base_url}/api/events/{event_id}/seats").json()
             ["seats"]][:1]
    assert httpx.post(f"{base_url}/api/reservations", headers=who,
                      json={"eventId": event_id, "seatIds": seats}).status_code == 201
    r = httpx.post(f"{base_url}/api/orders", json={
        "eventId": event_id, "seatIds": seats, "buyerName": "Finder", "buyerEmail": email},
        headers={**who, "Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    order_id = r.json()["orderId"]
    r = httpx.post(f"{base_url}/api/payments/authorize", json={"orderId": order_id},
                   headers=who, timeout=30)
    assert r.status_code in (200, 202)
    wait_mail(mail_sink, email)  # the confirmation
    answers = []
    for lang, address in (("ko", email), ("ko", f"nobody-{uuid.uuid4().hex[:6]}@example.com")):
        page = new_context("phone", lang).new_page()
        page.goto("/find-order")
        page.locator("#find-email").fill(address)
        page.locator("#find-reference").fill(f"#{order_id}")
        page.locator("#find-submit").click()
        answer = page.locator("#find-answer")
        expect(answer).to_contain_text(TEXT[lang]["found"], timeout=15_000)
        answers.append(answer.inner_text())
    assert answers[0] == answers[1]  # the same answer for a known and an unknown address
    mails = wait_mail(mail_sink, email, count=2)
    page = new_context("desktop", "en").new_page()
    page.goto(link_in(mails[-1]))
    expect(page.locator("#order-link")).to_have_attribute("data-outcome", "ok", timeout=30_000)
    expect(page.locator(".ticket-card")).to_have_count(1)
