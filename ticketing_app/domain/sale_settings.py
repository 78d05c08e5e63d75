"""An event's sale settings, declared once: the hold bounds, the per-buyer limit, the orphan
rule and the waiting room. Every view derives from these classes ("one base, many views"):

- the table: `db.models.Event` inherits the fields as columns;
- the rules: `event_rules.EventSettings` (the event form) inherits them and `check_settings`
  judges them by the bounds here; the on-sale switches by `ONSALE_BOUNDS`;
- the admin schemas: `api.admin_schemas.EventSettingsIn` inherits them under the API's names
  (`api_name`: `hold_min_s` is `holdMinSeconds`).

The defaults of a new event come from the settings (HOLD_DEFAULT_S, ...) where there is one.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from ticketing_app.domain.pow import DEFAULT_BITS, MAX_BITS

ROOM_MODES = ("off", "on", "auto")

# What the event form accepts (event_rules.check_settings): hold bounds within these, and
# the seats per buyer; the bot check's bits are 0 (off) to MAX_BITS everywhere.
HOLD_FLOOR_S = 1
HOLD_CEILING_S = 3600
# The web app's holds may last up to 30 minutes in all (a person finishing a checkout).
WEB_HOLD_CEILING_S = 1800
SEATS_PER_BUYER_MAX = 50
# (lowest, highest) the organiser's on-sale switches accept (services/onsale_settings.py).
ONSALE_BOUNDS = {
    "max_seats_per_buyer": (1, 1000),
    "waiting_room_rate": (0, 100_000),  # 0 pauses admission
    "waiting_room_auto_threshold": (1, 1_000_000),
    "waiting_room_capacity": (0, 10_000_000),  # 0 = no cap
    "waiting_room_difficulty": (0, MAX_BITS),
}


def api_name(field: str) -> str:
    """The REST API's name of a setting: camelCase, seconds spelt out."""
    if field.endswith("_s"):
        return to_camel(field[:-2]) + "Seconds"
    return to_camel(field)


class AccessSettings(BaseModel):
    """Who may hold a wheelchair space (domain/access.py): `declared` = buyers who say they
    need one, until `wheelchair_release_hours` before the event (0 = never), then everyone;
    `everyone` = no restriction."""

    wheelchair_policy: str = "declared"
    wheelchair_release_hours: int = 48


class SaleSettings(AccessSettings):
    """What the event form sets: how long a hold lasts (default, bounds, the most a hold may
    be extended to in all), the seats one buyer may have, the orphan-seat rule, the waiting
    room's switch and its bot check."""

    hold_default_s: int = 30
    hold_min_s: int = 5
    hold_max_s: int = 120
    hold_max_total_s: int = 600
    # The web app's holds: their length and total cap (the bounds above are the REST API's,
    # the original's clamp); up to WEB_HOLD_CEILING_S. Extend adds `web_hold_s` to a hold.
    web_hold_s: int = 600
    web_hold_max_total_s: int = 1800
    max_seats_per_buyer: int = 10
    orphan_rule: bool = False
    waiting_room: bool = False
    # The bot check before a place in the queue (domain/pow.py): leading zero bits of the
    # proof of work; 0 = off (load tools, tests).
    waiting_room_difficulty: int = DEFAULT_BITS

    def sale_values(self) -> dict[str, Any]:  # AccessSettings' fields included
        return {name: getattr(self, name) for name in SaleSettings.model_fields}


class RoomPacing(BaseModel):
    """How the waiting room admits, set by the on-sale switches."""

    waiting_room_rate: int = 50  # admissions per second while the room is on
    # Automatic waiting room: turns on by itself when more than `waiting_room_auto_threshold`
    # buyers arrive within one second.
    waiting_room_auto: bool = False
    waiting_room_auto_threshold: int = 200
    waiting_room_capacity: int = 0  # at most this many live admissions at once; 0 = no cap


class EventSales(SaleSettings, RoomPacing):
    """Every sale setting of an event (what the table stores)."""


class RoomSwitches(Protocol):
    waiting_room: bool
    waiting_room_auto: bool


def room_mode(ev: RoomSwitches) -> str:
    """The organiser's switch wins; otherwise the automatic mode, if chosen."""
    if ev.waiting_room:
        return "on"
    return "auto" if ev.waiting_room_auto else "off"


def room_meta(ev: EventSales) -> dict[str, Any]:
    """The event's waiting-room settings as the Redis scripts read them (from the meta hash)."""
    return {
        "wrmode": room_mode(ev),
        "wrrate": max(0, ev.waiting_room_rate),
        "wrthr": max(1, ev.waiting_room_auto_threshold),
        "wrcap": max(0, ev.waiting_room_capacity),
        "wrpow": max(0, ev.waiting_room_difficulty),
    }
