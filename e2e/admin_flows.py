"""Shared steps of the admin e2e tests: signing in, and a buyer paying for the seats they
hold. The booking UI's checkout belongs to the `ui` branch; until it lands on main the buyer
holds seats on the real seat map and pays through the REST API with their own browser's
identity (the signed buyer cookie is a valid X-Caller-Id)."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

ADMIN_USER = "e2e-admin"
ADMIN_PASSWORD = "e2e-admin-password"


def sign_in(page: Page, next_path: str = "/admin") -> None:
    page.goto(f"/admin/login?next={next_path}")
    page.locator("#username").fill(ADMIN_USER)
    page.locator("#password").fill(ADMIN_PASSWORD)
    page.locator("#sign-in").click()
    expect(page).to_have_url(re.compile(re.escape(next_path) + r"/?$"), timeout=30_000)


def buyer_token(context: BrowserContext) -> str:
    for c in context.cookies():
        if c["name"] == "tk_buyer":
            return str(c["value"])
    raise AssertionError("the buyer has no tk_buyer cookie")


def pay_for_held(context: BrowserContext, event_id: int, seat_ids: list[int]) -> int:
    """Order and pay the seats this browser holds; returns the order id once CONFIRMED."""
    headers = {"X-Caller-Id": buyer_token(context)}
    r = context.request.post("/api/orders", data={"eventId": event_id, "seatIds": seat_ids},
                             headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    assert r.status == 201, r.text()
    order_id = int(r.json()["orderId"])
    r = context.request.post("/api/payments/authorize", data={"orderId": order_id},
                             headers=headers)
    assert r.status in (200, 202), r.text()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = context.request.get(f"/api/orders/{order_id}", headers=headers).json()
        if status["status"] == "CONFIRMED":
            return order_id
        time.sleep(0.3)
    raise AssertionError(f"order {order_id} not confirmed: {status}")


def seat_id_of(page: Page, selector: str) -> int:
    return int(page.locator(selector).get_attribute("data-seat") or 0)


def admin_api(context: BrowserContext, method: str, path: str, body: Any = None) -> Any:
    r = context.request.fetch(path, method=method, data=body)
    assert r.ok, (path, r.status, r.text())
    return r.json() if r.text() else None
