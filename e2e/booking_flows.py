"""Shared steps of the booking e2e tests: a fresh event per test (so tests never share seats),
a buyer's identity from their browser, screenshots for the docs, and the seat selectors."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from playwright.sync_api import BrowserContext, Locator, Page, expect

from ticketing_app.bootstrap import create_runtime
from ticketing_app.services.admin import GridSpec, TierSpec
from ticketing_app.settings import PROJECT_ROOT, Settings
from ticketing_app.stack import Stack

T = TypeVar("T")
# Committed, small PNGs the docs show; CI also keeps a copy as artifacts.
DOC_SHOTS = PROJECT_ROOT / "docs" / "screenshots"
ARTIFACT_SHOTS = Path(os.environ.get("E2E_SCREENSHOTS",
                                     PROJECT_ROOT / "artifacts" / "screenshots"))


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Playwright's sync API keeps an event loop running in this thread: use another."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def stack_settings(stack: Stack) -> Settings:
    return Settings(**{k.lower(): v for k, v in stack.env().items()
                       if k.lower() in Settings.model_fields})


async def _new_event(stack: Stack, rows: int, cols: int, sections: tuple[str, ...],
                     status: str, settings: dict[str, Any]) -> int:
    rt = await create_runtime(stack_settings(stack))
    try:
        grids = [GridSpec(name, rows, cols, row_offset=i * rows)
                 for i, name in enumerate(sections)]
        venue = await rt.admin.create_venue("e2e", f"Hall {uuid.uuid4().hex[:6]}", grids)
        ev = await rt.admin.create_event(
            "e2e", title=f"Booking night {uuid.uuid4().hex[:4]}",
            starts_at=datetime.now(UTC) + timedelta(days=5), venue_id=int(venue.id or 0),
            tiers=[TierSpec("Gold", 90000, rows=(1,)), TierSpec("Standard", 52000)],
            status=status, **settings)
    finally:
        await rt.close()
    return int(ev.id or 0)


def new_event(stack: Stack, rows: int = 4, cols: int = 8, sections: tuple[str, ...] = ("Main",),
              status: str = "ON_SALE", **settings: Any) -> int:
    """A fresh event of its own: Gold row A at 90,000 KRW, the rest Standard at 52,000 KRW."""
    return run(_new_event(stack, rows, cols, sections, status, settings))


def seat(page: Page, label: str) -> Locator:
    """`label` like 'Row C seat 7' (the start of the seat's accessible name)."""
    return page.locator(f"button[aria-label^='{label},']")


def open_event(context: BrowserContext, event_id: int) -> Page:
    page = context.new_page()
    # Generous: on a busy 2-core machine a browser per test is slow to load a page.
    page.goto(f"/event/{event_id}", timeout=120_000)
    expect(page.locator("#seat-map button").first).to_be_visible(timeout=120_000)
    return page


def buyer_token(context: BrowserContext) -> str:
    for c in context.cookies():
        if c["name"] == "tk_buyer":
            return str(c["value"])
    raise AssertionError("the buyer has no tk_buyer cookie")


def toast(page: Page, text: str) -> Locator:
    return page.locator("[data-sonner-toast]").filter(has_text=text)


def screenshot(page: Page, name: str, locator: Locator | None = None) -> None:
    """Saves artifacts/screenshots/<name>.png (CI artifacts); with E2E_UPDATE_DOCS=1 also
    refreshes the committed copy in docs/screenshots/ (so a test run leaves the tree clean)."""
    ARTIFACT_SHOTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACT_SHOTS / f"{name}.png"
    if locator is not None:
        locator.screenshot(path=str(path))
    else:
        page.screenshot(path=str(path))
    if os.environ.get("E2E_UPDATE_DOCS") == "1":
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SHOTS / path.name)


async def _cancel_event(stack: Stack, event_id: int, reason: str) -> None:
    rt = await create_runtime(stack_settings(stack))
    try:
        await rt.cancellation.cancel_event("e2e", event_id, reason)
    finally:
        await rt.close()


def cancel_event(stack: Stack, event_id: int, reason: str) -> None:
    """The organiser cancels the event (sales close, holds end, refunds in the background)."""
    run(_cancel_event(stack, event_id, reason))
