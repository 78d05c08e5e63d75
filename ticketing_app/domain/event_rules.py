"""What an organiser may set on an event, and which status changes are allowed.

Pure rules: the admin service checks a whole form here first and refuses it with every problem
listed, so nothing is half-written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ConfigDict

from ticketing_app.domain import errors
from ticketing_app.domain.access import WHEELCHAIR_POLICIES
from ticketing_app.domain.layouts import Problems
from ticketing_app.domain.pow import MAX_BITS
from ticketing_app.domain.sale_settings import (
    HOLD_CEILING_S,
    HOLD_FLOOR_S,
    SEATS_PER_BUYER_MAX,
    WEB_HOLD_CEILING_S,
    SaleSettings,
)

TITLE_MAX = 200
WHEELCHAIR_RELEASE_MAX_H = 24 * 365
DESCRIPTION_MAX = 4000
TIER_NAME_MAX = 60
PRICE_MAX = 10**12
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")

# Which status an event may move to from each status. CANCELLED is reached only through the
# cancellation (which refunds every order), never by a plain status change.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    "DRAFT": frozenset({"ON_SALE"}),
    "ON_SALE": frozenset({"CLOSED", "DRAFT"}),
    "CLOSED": frozenset({"ON_SALE", "DRAFT"}),
    "CANCELLED": frozenset(),
}
EVENT_STATUSES = ("DRAFT", "ON_SALE", "CLOSED", "CANCELLED")
# What buyers may see. A DRAFT is unpublished: outside the admin area it does not exist (the same
# 404 EVENT_NOT_FOUND as an unknown id), since ids are easy to enumerate.
PUBLISHED_STATUSES = frozenset({"ON_SALE", "CLOSED", "CANCELLED"})


@dataclass(frozen=True)
class TierSpec:
    """A price tier and where it applies: `rows` (any section), `sections`, or explicit
    `seat_positions` ((section, r, c)); a tier with none of these takes every seat no other tier
    claims."""

    name: str
    price: int
    color: str = "#10b981"
    rows: tuple[int, ...] = ()
    sections: tuple[str, ...] = ()


class EventSettings(SaleSettings):
    """Everything on the event form except tiers and venue: the title, date, description and
    currency, and the sale settings (declared in `domain/sale_settings.py`). Not validated on
    construction beyond types: `check_settings` judges it and lists every problem."""

    model_config = ConfigDict(frozen=True)

    title: str
    starts_at: datetime
    description: str = ""
    currency: str = "KRW"

    def __init__(self, title: str, starts_at: datetime, **values: Any) -> None:
        super().__init__(**{"title": title, "starts_at": starts_at, **values})

    def columns(self) -> dict[str, Any]:
        return {
            "title": self.title.strip(), "starts_at": self.starts_at,
            "description": self.description.strip(), **self.sale_values(),
            "currency": self.currency.upper(),
        }


def check_settings(s: EventSettings, problems: Problems | None = None) -> None:
    p = problems or Problems()
    if not s.title.strip():
        p.add("title", "title must not be empty")
    elif len(s.title.strip()) > TITLE_MAX:
        p.add("title", f"title longer than {TITLE_MAX} characters")
    if len(s.description) > DESCRIPTION_MAX:
        p.add("description", f"description longer than {DESCRIPTION_MAX} characters")
    if s.starts_at.tzinfo is None:
        p.add("startsAt", "date and time need a time zone")
    if not _CURRENCY.match(s.currency.upper()):
        p.add("currency", "currency is a three-letter code such as KRW")
    if not HOLD_FLOOR_S <= s.hold_min_s <= s.hold_max_s <= HOLD_CEILING_S:
        p.add("holdSeconds", f"need {HOLD_FLOOR_S} <= minimum <= maximum <= {HOLD_CEILING_S}")
    if not s.hold_min_s <= s.hold_default_s <= s.hold_max_s:
        p.add("holdDefaultSeconds", "the hold time must lie between the minimum and maximum")
    if s.hold_max_total_s < s.hold_max_s:
        p.add("holdMaxTotalSeconds", "the total hold lifetime must be at least the maximum hold")
    if not HOLD_FLOOR_S <= s.web_hold_s <= s.web_hold_max_total_s <= WEB_HOLD_CEILING_S:
        p.add("webHoldSeconds", f"need {HOLD_FLOOR_S} <= web app hold <= its total <= "
                                f"{WEB_HOLD_CEILING_S} seconds")
    if not 1 <= s.max_seats_per_buyer <= SEATS_PER_BUYER_MAX:
        p.add("maxSeatsPerBuyer", f"seats per buyer must be between 1 and "
                                  f"{SEATS_PER_BUYER_MAX}")
    if s.wheelchair_policy not in WHEELCHAIR_POLICIES:
        p.add("wheelchairPolicy", f"one of {', '.join(WHEELCHAIR_POLICIES)}")
    if not 0 <= s.wheelchair_release_hours <= WHEELCHAIR_RELEASE_MAX_H:
        p.add("wheelchairReleaseHours", f"hours before the event between 0 (never) and "
                                        f"{WHEELCHAIR_RELEASE_MAX_H}")
    if not 0 <= s.waiting_room_difficulty <= MAX_BITS:
        p.add("waitingRoomDifficulty", f"the bot check's difficulty must be between 0 (off) "
                                       f"and {MAX_BITS} bits")
    if problems is None:
        p.raise_if_any("Invalid event")


def check_tier(name: str, price: int, color: str, where: str, problems: Problems) -> None:
    if not name.strip():
        problems.add(where, "tier name must not be empty")
    elif len(name.strip()) > TIER_NAME_MAX:
        problems.add(where, f"tier name longer than {TIER_NAME_MAX} characters")
    if isinstance(price, bool) or not isinstance(price, int):
        problems.add(where, "price must be a whole number of minor units")
    elif price < 0:
        problems.add(where, f"price must not be negative (got {price})")
    elif price > PRICE_MAX:
        problems.add(where, "price is too large")
    if not _COLOUR.match(color or ""):
        problems.add(where, f"colour {color!r} is not like #10b981")


def check_tiers(tiers: list[TierSpec], problems: Problems) -> None:
    if not tiers:
        problems.add("tiers", "an event needs at least one price tier")
    names: set[str] = set()
    for i, t in enumerate(tiers, 1):
        check_tier(t.name, t.price, t.color, f"tiers[{i}]", problems)
        key = t.name.strip().lower()
        if key and key in names:
            problems.add(f"tiers[{i}]", f"tier name {t.name.strip()!r} is used twice")
        names.add(key)
        if any(r < 1 for r in t.rows):
            problems.add(f"tiers[{i}]", "rows count from 1")


def check_transition(current: str, new: str) -> None:
    if new not in EVENT_STATUSES:
        raise errors.ValidationFailed(f"Unknown status {new}.",
                                      [{"field": "status", "message": "unknown"}])
    if new == current:
        return
    if new == "CANCELLED":
        raise errors.Conflict("Use the event cancellation, which refunds every order.")
    if new not in STATUS_TRANSITIONS.get(current, frozenset()):
        if current == "CANCELLED":
            raise errors.Conflict("A cancelled event cannot be reopened.")
        raise errors.Conflict(f"An event cannot go from {current} to {new}.")
