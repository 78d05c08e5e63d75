"""An event's seats as buyers see them (position, tier, price), and the pure rules read off
them: which tier a buyer means, and the longest block of seats side by side. The catalog
builds a `Layout` from the database; best available and the seat map read it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ticketing_app.domain import errors
from ticketing_app.domain.access import COMPANION, WHEELCHAIR
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
    # wheelchair, companion, restricted, aisle (domain/access.py)
    features: frozenset[str] = frozenset()
    # The row's letters as people read them (no letter skipped for an empty row); '' = the
    # grid row's own letters.
    row_name: str = ""
    # Where the seat is drawn, in seat widths (the venue editor's offsets, curves and moves);
    # None = at its grid place (c, r).
    x: float | None = None
    y: float | None = None

    @property
    def label(self) -> str:
        return seat_label(self.section, self.row_name or self.r, self.c)

    @property
    def wheelchair(self) -> bool:
        return WHEELCHAIR in self.features

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

    @cached_property
    def wheelchair_ids(self) -> frozenset[int]:
        return frozenset(s.id for s in self.seats if s.wheelchair)


def accessible_companions_max(layout: Layout) -> int:
    """The most companions any wheelchair space can have beside it: the longest run of
    wheelchair and companion seats side by side holding one space, minus that space (-1: the
    event has no wheelchair space). Best available refuses more before asking Redis."""
    best = -1
    for i, s in enumerate(layout.seats):
        if not s.wheelchair:
            continue
        run = 1
        for step in (-1, 1):
            j, prev = i + step, s
            while 0 <= j < len(layout.seats):
                o = layout.seats[j]
                if (o.section, o.r) != (s.section, s.r) or abs(o.c - prev.c) != 1 or \
                        COMPANION not in o.features or o.wheelchair:
                    break
                run, prev, j = run + 1, o, j + step
        best = max(best, run - 1)
    return best


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
    """The most seats side by side in one row of the tier, taken or not, wheelchair spaces and
    companion seats apart: no request for more can ever be met, so best available refuses it
    before asking Redis."""
    best, run, prev = 0, 0, None
    for s in layout.seats:  # ordered by section, row, column
        if (tier_key != "*" and str(s.tier_id) != tier_key) or s.wheelchair or \
                COMPANION in s.features:  # never offered to "N together" (catalog.py)
            prev = None
            continue
        here = (s.section, s.r, s.c)
        run = run + 1 if prev and prev[:2] == here[:2] and prev[2] + 1 == here[2] else 1
        prev = here
        best = max(best, run)
    return best
