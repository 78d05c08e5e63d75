"""An event's seats as buyers see them (position, tier, price), and the pure rules read off
them: which tier a buyer means, and the longest block of seats side by side. The catalog
builds a `Layout` from the database; best available and the seat map read it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ticketing_app.domain import errors
from ticketing_app.domain.seats import seat_label


@dataclass(frozen=True)
class SeatInfo:
    id: int
    section: str
    r: int
    c: int
    price: int
    tier_id: int | None
    tier_name: str
    tier_color: str

    @property
    def label(self) -> str:
        return seat_label(self.section, self.r, self.c)

    @property
    def row_key(self) -> str:
        return f"{self.section}:{self.r}"


@dataclass(frozen=True)
class Layout:
    event_id: int
    rows: int
    cols: int
    currency: str
    seats: tuple[SeatInfo, ...]

    def by_id(self) -> dict[int, SeatInfo]:
        return self._by_id

    @cached_property
    def _by_id(self) -> dict[int, SeatInfo]:
        return {s.id: s for s in self.seats}


def tier_id_for(layout: Layout, tier: str | None) -> tuple[str, str | None]:
    """(the script's tier key, the tier's display name); '*' when no tier is asked for."""
    if tier is None or not tier.strip():
        return "*", None
    wanted = tier.strip().casefold()
    for s in layout.seats:
        if s.tier_id is not None and (s.tier_name.casefold() == wanted or str(s.tier_id) == wanted):
            return str(s.tier_id), s.tier_name
    names = sorted({s.tier_name for s in layout.seats if s.tier_name})
    raise errors.ValidationFailed(
        f"This event has no tier {tier!r}; its tiers are: {', '.join(names)}.",
        [{"field": "tier", "message": "unknown tier"}])


def longest_block(layout: Layout, tier_key: str) -> int:
    """The most seats side by side in one row of the tier, taken or not: no request for more
    can ever be met, so best available refuses it before asking Redis."""
    best, run, prev = 0, 0, None
    for s in layout.seats:  # ordered by section, row, column
        if tier_key != "*" and str(s.tier_id) != tier_key:
            prev = None
            continue
        here = (s.section, s.r, s.c)
        run = run + 1 if prev and prev[:2] == here[:2] and prev[2] + 1 == here[2] else 1
        prev = here
        best = max(best, run)
    return best
