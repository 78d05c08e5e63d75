"""Accessible seating, the pure rules: what a seat offers (a wheelchair space, a companion
seat beside one, a restricted view, an aisle), who may hold a wheelchair space and from when,
and how rows are lettered.

Wheelchair spaces are few and, once sold to someone who does not need one, lost to those who
do. The organiser chooses per event (`WHEELCHAIR_POLICIES`): spaces for buyers who say they
need one until `wheelchair_release_hours` before the event starts, then for everyone; or for
everyone from the start. The rule is enforced where seats are held (services/reservations.py),
never only in the page.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from ticketing_app.domain.seats import row_label

WHEELCHAIR = "wheelchair"
COMPANION = "companion"
RESTRICTED = "restricted"
AISLE = "aisle"
FEATURES = (WHEELCHAIR, COMPANION, RESTRICTED, AISLE)
# Accepted spellings in imports ("wc", "R") -> the feature.
_ALIASES = {"wc": WHEELCHAIR, "w": WHEELCHAIR, "c": COMPANION, "r": RESTRICTED,
            "a": AISLE, "restricted view": RESTRICTED, "restricted_view": RESTRICTED}

# "declared": buyers who say they need a wheelchair space, until the release time;
# "everyone": no restriction.
WHEELCHAIR_POLICIES = ("declared", "everyone")


# The best-available index of wheelchair spaces and companion seats (services/catalog.py),
# and the kind of each seat in it.
ACCESSIBLE_TIER = "wc"


def access_kind(features: frozenset[str]) -> str:
    """'W' a wheelchair space, 'C' a companion seat, '' neither."""
    if WHEELCHAIR in features:
        return "W"
    return "C" if COMPANION in features else ""


def parse_features(value: object) -> frozenset[str]:
    """`"wheelchair;aisle"`, `["wc", "aisle"]` or `""` -> the features; unknown words refused
    (a typo in an import must not silently drop a wheelchair space)."""
    if value is None:
        return frozenset()
    words = value if isinstance(value, list | tuple | set | frozenset) else \
        str(value).replace(",", ";").replace("|", ";").split(";")
    out: set[str] = set()
    for w in words:
        key = str(w).strip().lower()
        if not key:
            continue
        name = _ALIASES.get(key, key)
        if name not in FEATURES:
            raise ValueError(f"unknown seat feature {w!r} (use {', '.join(FEATURES)})")
        out.add(name)
    return frozenset(out)


def format_features(features: Iterable[str]) -> str:
    """The stored form: the features in a fixed order, comma separated ('' = none)."""
    have = set(features)
    return ",".join(f for f in FEATURES if f in have)


def stored_features(text: str | None) -> frozenset[str]:
    return frozenset(f for f in (text or "").split(",") if f in FEATURES)


def aisle_seats(positions: Iterable[tuple[str, int, int]]) -> set[tuple[str, int, int]]:
    """Seats at the end of a run of seats (an aisle, a gap or the row's end beside them):
    marked as aisle seats without the organiser listing them."""
    cells = set(positions)
    return {(s, r, c) for s, r, c in cells
            if (s, r, c - 1) not in cells or (s, r, c + 1) not in cells}


def row_letters(rows: Iterable[int]) -> dict[int, str]:
    """Rows as people read them: A, B, C ... for the rows that have seats, in order, with no
    letter skipped for an empty row between sections or an aisle row (the grid keeps the
    gap; the names do not)."""
    return {r: row_label(i) for i, r in enumerate(sorted(set(rows)), 1)}


def wheelchair_open_to_all(policy: str, release_hours: int, starts_at: datetime,
                           now: datetime) -> bool:
    """Everyone may hold wheelchair spaces: the policy says so, or the release time came
    (`release_hours` before the start; 0 = never released)."""
    if policy == "everyone":
        return True
    if release_hours <= 0:
        return False
    return now >= starts_at - timedelta(hours=release_hours)


def may_hold_wheelchair(policy: str, release_hours: int, starts_at: datetime, now: datetime,
                        declared: bool) -> bool:
    """A buyer who says they need a wheelchair space may always hold one; others once the
    spaces are open to everyone."""
    return declared or wheelchair_open_to_all(policy, release_hours, starts_at, now)
