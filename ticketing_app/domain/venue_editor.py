"""The venue editor's pure rules: an existing layout changed seat by seat, row by row or
section by section, then validated whole before it is saved.

A seat keeps three things apart (migration 0012): its section, its row `r` and number `c`
(what tickets say, and what the orphan rule and "N together" count as neighbours: seats c and
c+1 of a row), and where it is drawn, `x` and `y` in seat widths (the buyer's map). So a row
can be shifted sideways (an offset), bent into an arc (a curve) or renumbered from the other
side without moving a single seat, and a seat can be moved without changing its name.

Every operation returns a new layout; `check_layout` holds it to the rules of generated and
imported venues (`domain/layouts.py`: names, duplicate seats, sections sharing a place, size)
and adds one of its own: no two seats drawn on top of each other.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from ticketing_app.domain import errors
from ticketing_app.domain.access import (
    AISLE,
    COMPANION,
    FEATURES,
    WHEELCHAIR,
    aisle_seats,
    format_features,
)
from ticketing_app.domain.layouts import (
    MAX_GRID,
    MAX_SEATS,
    Problems,
    check_positions,
    check_section_name,
)
from ticketing_app.domain.seats import row_label

# A seat is drawn SEAT_PX wide in a pitch of SEAT_PX + gap (34 of 40 px): two seats closer
# than this many seat widths, across and down, overlap on the map.
SEAT_BOX = 0.85
MAX_NUMBER = MAX_GRID * 5  # the highest row or seat number (the import's bound)
MAX_SHIFT = 50.0  # one offset or move, in seat widths
MAX_ADD = 200  # seats or rows added in one step
DIRECTIONS = ("ltr", "rtl")  # seat numbers grow left to right, or right to left


@dataclass(frozen=True)
class EditSeat:
    """One seat in the editor. `uid` follows a seat through edits (its stored id; 0 for a
    seat added in this edit), so the audit can say what was added, moved or renumbered."""

    section: str
    r: int
    c: int
    x: float
    y: float
    features: frozenset[str] = frozenset()
    uid: int = 0

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.section, self.r, self.c)

    @property
    def row(self) -> tuple[str, int]:
        return (self.section, self.r)

    @property
    def name(self) -> str:
        return f"{self.section} {row_label(self.r)}{self.c}"


Seats = tuple[EditSeat, ...]


def at_grid(section: str, r: int, c: int, features: Iterable[str] = (), uid: int = 0,
            x: float | None = None, y: float | None = None) -> EditSeat:
    """A stored seat: drawn at its grid place unless it has its own (x, y)."""
    return EditSeat(section, r, c, float(c if x is None else x), float(r if y is None else y),
                    frozenset(features), uid)


def stored_place(seat: EditSeat) -> tuple[float | None, float | None]:
    """(x, y) as stored: None where the seat sits at its grid place (x = c, y = r)."""
    return (None if math.isclose(seat.x, seat.c) else seat.x,
            None if math.isclose(seat.y, seat.r) else seat.y)


def fingerprint(seats: Iterable[EditSeat]) -> str:
    """Names the layout as it is: an edit saved on top of a layout that someone else changed
    meanwhile is refused (the page's copy is out of date)."""
    text = "\n".join(sorted(f"{s.section}|{s.r}|{s.c}|{s.x:.3f}|{s.y:.3f}|"
                            f"{format_features(s.features)}" for s in seats))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def sections(seats: Iterable[EditSeat]) -> list[str]:
    """Section names nearest the stage first (as the buyer's map orders them)."""
    top: dict[str, float] = {}
    for s in seats:
        top[s.section] = min(top.get(s.section, s.y), s.y)
    return sorted(top, key=lambda n: (top[n], n))


def rows(seats: Sequence[EditSeat]) -> list[tuple[str, int]]:
    """Every (section, row), section by section as `sections` orders them."""
    order = {name: i for i, name in enumerate(sections(seats))}
    return sorted({s.row for s in seats}, key=lambda k: (order[k[0]], k[1]))


def _row(seats: Seats, section: str, r: int) -> list[EditSeat]:
    found = sorted((s for s in seats if s.row == (section, r)), key=lambda s: (s.x, s.c))
    if not found:
        raise errors.ValidationFailed(
            f"{section} has no row {row_label(r) if r >= 1 else r}.",
            [{"field": "row", "message": "unknown row"}])
    return found


def _count(value: int, what: str) -> int:
    if not 1 <= value <= MAX_ADD:
        raise errors.ValidationFailed(f"{what} must be between 1 and {MAX_ADD}.",
                                      [{"field": what, "message": "out of range"}])
    return value


def _shift(value: float, what: str, limit: float = MAX_SHIFT) -> float:
    if not math.isfinite(value) or abs(value) > limit:
        raise errors.ValidationFailed(f"{what} must be between -{limit:g} and {limit:g}.",
                                      [{"field": what, "message": "out of range"}])
    return round(value, 3)


def _replace_row(seats: Seats, section: str, r: int, new: Iterable[EditSeat]) -> Seats:
    return tuple(s for s in seats if s.row != (section, r)) + tuple(new)


def _section_exists(seats: Seats, name: str) -> bool:
    return any(s.section == name for s in seats)


def _name(name: str) -> str:
    p = Problems()
    text = check_section_name(name, "section", p)
    p.raise_if_any("Invalid section")
    return text


# ---- sections ---------------------------------------------------------------------------
def add_section(seats: Seats, name: str, row_count: int, per_row: int) -> Seats:
    """A new section of `row_count` rows of `per_row` seats, drawn under everything else
    (one empty row between); its rows are lettered after the venue's last row. Sections have
    no fixed number: add as many as the venue has."""
    text = _name(name)
    if _section_exists(seats, text):
        raise errors.ValidationFailed(f"There is already a section {text!r}.",
                                      [{"field": "section", "message": "exists"}])
    _count(row_count, "rows")
    _count(per_row, "seats")
    first_r = max((s.r for s in seats), default=-1) + 2
    top = max((s.y for s in seats), default=-1.0) + 2
    left = min((s.x for s in seats), default=1.0)
    new = tuple(EditSeat(text, first_r + i, c, left + c - 1, round(top + i, 3))
                for i in range(row_count) for c in range(1, per_row + 1))
    return seats + new


def rename_section(seats: Seats, old: str, new: str) -> Seats:
    text = _name(new)
    if not _section_exists(seats, old):
        raise errors.ValidationFailed(f"There is no section {old!r}.",
                                      [{"field": "section", "message": "unknown"}])
    if text != old and _section_exists(seats, text):
        raise errors.ValidationFailed(f"There is already a section {text!r}.",
                                      [{"field": "section", "message": "exists"}])
    return tuple(replace(s, section=text) if s.section == old else s for s in seats)


def remove_section(seats: Seats, name: str) -> Seats:
    if not _section_exists(seats, name):
        raise errors.ValidationFailed(f"There is no section {name!r}.",
                                      [{"field": "section", "message": "unknown"}])
    return tuple(s for s in seats if s.section != name)


# ---- rows -------------------------------------------------------------------------------
def add_row(seats: Seats, section: str, count: int) -> Seats:
    """A row of `count` seats behind the section's last row, numbered from 1 left to right,
    starting where the section's rows start."""
    _count(count, "seats")
    own = [s for s in seats if s.section == section]
    if not own:
        raise errors.ValidationFailed(f"There is no section {section!r}.",
                                      [{"field": "section", "message": "unknown"}])
    r = max(s.r for s in own) + 1
    y = max(s.y for s in own) + 1
    left = min(s.x for s in own)
    return seats + tuple(EditSeat(section, r, c, left + c - 1, y)
                         for c in range(1, count + 1))


def numbering(row: Sequence[EditSeat]) -> tuple[int, str]:
    """(first number, direction) of a row ordered left to right."""
    first, last = row[0], row[-1]
    direction = "rtl" if len(row) > 1 and first.c > last.c else "ltr"
    return min(s.c for s in row), direction


def add_seats(seats: Seats, section: str, r: int, count: int, side: str = "right") -> Seats:
    """`count` seats at the row's left or right end, one seat width apart and on the row's
    line; the row is numbered again as it was (same first number and direction)."""
    _count(count, "seats")
    row = _row(seats, section, r)
    start, direction = numbering(row)
    if side not in ("left", "right"):
        raise errors.ValidationFailed("Add seats on the left or the right.",
                                      [{"field": "side", "message": "left or right"}])
    end = row[-1] if side == "right" else row[0]
    step = 1.0 if side == "right" else -1.0
    new = [EditSeat(section, r, 0, round(end.x + step * i, 3), end.y)
           for i in range(1, count + 1)]
    ordered = [*row, *new] if side == "right" else [*reversed(new), *row]
    return _replace_row(seats, section, r, _numbered(ordered, start, direction))


def _numbered(ordered: Sequence[EditSeat], start: int, direction: str) -> list[EditSeat]:
    n = len(ordered)
    return [replace(s, c=start + (i if direction == "ltr" else n - 1 - i))
            for i, s in enumerate(ordered)]


def renumber_row(seats: Seats, section: str, r: int, start: int = 1,
                 direction: str = "ltr") -> Seats:
    """Seat numbers from `start`, growing left to right (`ltr`) or right to left (`rtl`) in
    the order the seats are drawn. Nothing moves on the map; neighbours stay neighbours (the
    orphan rule and "N together" count seats c and c+1)."""
    row = _row(seats, section, r)
    if direction not in DIRECTIONS:
        raise errors.ValidationFailed("Number seats left to right or right to left.",
                                      [{"field": "direction", "message": "ltr or rtl"}])
    if not 1 <= start <= MAX_NUMBER - len(row) + 1:
        raise errors.ValidationFailed(
            f"The first seat number must be between 1 and {MAX_NUMBER - len(row) + 1}.",
            [{"field": "start", "message": "out of range"}])
    return _replace_row(seats, section, r, _numbered(row, start, direction))


def offset_row(seats: Seats, section: str, r: int, amount: float) -> Seats:
    """The row drawn `amount` seat widths to the right (negative: left); half a seat
    staggers it against its neighbours."""
    amount = _shift(amount, "offset")
    return _replace_row(seats, section, r, (replace(s, x=round(s.x + amount, 3))
                                            for s in _row(seats, section, r)))


def arc_offsets(xs: Sequence[float], amount: float) -> list[float]:
    """How far each seat of a row (drawn at `xs`) moves toward the stage to lie on a circular
    arc whose ends come `amount` seat widths toward it and whose middle stays; a negative
    amount bends the row away from the stage, 0 straightens it."""
    if not xs:
        return []
    centre = (min(xs) + max(xs)) / 2
    d = [abs(x - centre) for x in xs]
    half, near = max(d), min(d)
    if amount == 0 or half - near < 1e-9:
        return [0.0 for _ in xs]
    sag = abs(amount)
    radius = (half * half + sag * sag) / (2 * sag)  # the circle through both ends and the middle

    def rise(v: float) -> float:
        return radius - math.sqrt(max(radius * radius - v * v, 0.0))

    low, high = rise(near), rise(half)
    sign = 1.0 if amount > 0 else -1.0
    return [round(sign * sag * (rise(v) - low) / (high - low), 3) for v in d]


def curve_row(seats: Seats, section: str, r: int, amount: float) -> Seats:
    """Seats of the row placed on an arc (`arc_offsets`): the seats nearest the row's middle
    keep their place, the ends come `amount` seat widths toward the stage. Curving again
    replaces the curve; 0 makes the row straight."""
    row = _row(seats, section, r)
    if len(row) < 3:
        raise errors.ValidationFailed("A row needs at least 3 seats to curve.",
                                      [{"field": "curve", "message": "too few seats"}])
    half = (row[-1].x - row[0].x) / 2
    amount = _shift(amount, "curve", limit=max(round(half, 3), 0.0))
    centre = (row[0].x + row[-1].x) / 2
    base = min(row, key=lambda s: abs(s.x - centre)).y  # the middle keeps the row's line
    rises = arc_offsets([s.x for s in row], amount)
    return _replace_row(seats, section, r, (replace(s, y=round(base - up, 3))
                                            for s, up in zip(row, rises, strict=True)))


# ---- seats ------------------------------------------------------------------------------
def _pick(seats: Seats, keys: Iterable[tuple[str, int, int]]) -> set[tuple[str, int, int]]:
    wanted = set(keys)
    if not wanted:
        raise errors.ValidationFailed("Select seats on the map first.",
                                      [{"field": "seats", "message": "none selected"}])
    missing = wanted - {s.key for s in seats}
    if missing:
        raise errors.ValidationFailed("Some selected seats are no longer in the layout.",
                                      [{"field": "seats", "message": "unknown"}])
    return wanted


def remove_seats(seats: Seats, keys: Iterable[tuple[str, int, int]]) -> Seats:
    gone = _pick(seats, keys)
    return tuple(s for s in seats if s.key not in gone)


def move_seats(seats: Seats, keys: Iterable[tuple[str, int, int]], dx: float,
               dy: float) -> Seats:
    """The seats drawn `dx` seat widths right and `dy` down (their names stay)."""
    moved = _pick(seats, keys)
    dx, dy = _shift(dx, "x"), _shift(dy, "y")
    return tuple(replace(s, x=round(s.x + dx, 3), y=round(s.y + dy, 3)) if s.key in moved
                 else s for s in seats)


def set_feature(seats: Seats, keys: Iterable[tuple[str, int, int]], feature: str,
                on: bool) -> Seats:
    """Marks (or unmarks) the seats as wheelchair spaces, companion seats, restricted views
    or aisle seats; a wheelchair space is never also a companion seat."""
    if feature not in FEATURES:
        raise errors.ValidationFailed(f"Unknown seat feature {feature!r}.",
                                      [{"field": "feature", "message": "unknown"}])
    chosen = _pick(seats, keys)
    other = {WHEELCHAIR: COMPANION, COMPANION: WHEELCHAIR}.get(feature)

    def changed(s: EditSeat) -> EditSeat:
        have = set(s.features) - {feature}
        if on:
            have = (have - {other}) | {feature} if other else have | {feature}
        return replace(s, features=frozenset(have))

    return tuple(changed(s) if s.key in chosen else s for s in seats)


def mark_new_aisles(before: Iterable[EditSeat], after: Seats) -> Seats:
    """A seat that is newly at the end of a run (a neighbour removed, a row added) is an aisle
    seat, as at creation; marks the organiser set or removed on other seats stay as they are."""
    was = aisle_seats(s.key for s in before)
    now = aisle_seats(s.key for s in after)
    fresh = now - was
    return tuple(replace(s, features=s.features | {AISLE}) if s.key in fresh else s
                 for s in after)


# ---- validation -------------------------------------------------------------------------
def check_layout(seats: Sequence[EditSeat]) -> None:
    """The whole layout, every problem listed: the rules of generated and imported venues
    (names, duplicate seats, two sections on one row and number, size), numbers in range,
    no wheelchair space that is also a companion seat, and no two seats drawn on top of each
    other."""
    p = Problems()
    for name in sorted({s.section for s in seats}):
        check_section_name(name, f"section {name!r}", p)
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
            p.add(f"section {name!r}", "section name has control characters")
    for s in seats:
        if not (1 <= s.r <= MAX_NUMBER and 1 <= s.c <= MAX_NUMBER):
            p.add(f"{s.section} {s.r}/{s.c}", f"rows and seat numbers run from 1 to "
                                              f"{MAX_NUMBER}")
        elif not (math.isfinite(s.x) and math.isfinite(s.y) and
                  -MAX_NUMBER <= s.x <= MAX_NUMBER and -MAX_NUMBER <= s.y <= MAX_NUMBER):
            p.add(s.name, "drawn outside the map")
        if WHEELCHAIR in s.features and COMPANION in s.features:
            p.add(s.name, "a seat cannot be both a wheelchair space and a companion seat")
    if p.items:
        p.raise_if_any("Invalid layout")
    check_positions([s.key for s in seats], p)
    for a, b in overlapping(seats):
        p.add(b.name, f"drawn on top of {a.name}")
    p.raise_if_any("Invalid layout")


def overlapping(seats: Sequence[EditSeat]) -> list[tuple[EditSeat, EditSeat]]:
    """Pairs of seats whose squares overlap on the map (a spatial hash: linear in the seats
    of a stadium)."""
    cells: dict[tuple[int, int], list[EditSeat]] = {}
    found: list[tuple[EditSeat, EditSeat]] = []
    for s in sorted(seats, key=lambda s: (s.y, s.x, s.key)):
        cx, cy = math.floor(s.x), math.floor(s.y)
        for gx in (cx - 1, cx, cx + 1):
            for gy in (cy - 1, cy, cy + 1):
                for o in cells.get((gx, gy), ()):
                    if abs(o.x - s.x) < SEAT_BOX and abs(o.y - s.y) < SEAT_BOX:
                        found.append((o, s))
        cells.setdefault((cx, cy), []).append(s)
    return found


def check_size(seats: Sequence[EditSeat]) -> None:
    if len(seats) > MAX_SEATS:
        raise errors.ValidationFailed(f"At most {MAX_SEATS} seats per venue.",
                                      [{"field": "layout", "message": "too many seats"}])


@dataclass(frozen=True)
class Changes:
    """What an edit did, for the audit log: counts, and sections renamed or gone."""

    added: int
    removed: int
    moved: int
    renumbered: int
    features: int
    sections_added: tuple[str, ...]
    sections_removed: tuple[str, ...]

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.moved or self.renumbered or
                    self.features or self.sections_added or self.sections_removed)


def adopt_uids(before: Iterable[EditSeat], after: Iterable[EditSeat]) -> Seats:
    """Seats sent without their uid (the REST API sends names and places) take the uid of the
    stored seat of the same name, else of the stored seat drawn at the same place in the
    same section (a renumbered seat), so the audit tells moved and renumbered seats from new
    ones."""
    stored = tuple(before)
    seats = list(after)
    claimed = {s.uid for s in seats if s.uid}
    matches: tuple[Callable[[EditSeat], object], ...] = (
        lambda s: s.key, lambda s: (s.section, round(s.x, 3), round(s.y, 3)))
    for match in matches:
        free: dict[object, int] = {}
        for s in stored:
            if s.uid not in claimed:
                free.setdefault(match(s), s.uid)
        for i, s in enumerate(seats):
            uid = free.get(match(s), 0)
            if not s.uid and uid and uid not in claimed:
                claimed.add(uid)
                seats[i] = replace(s, uid=uid)
    return tuple(seats)


def changes(before: Sequence[EditSeat], after: Sequence[EditSeat]) -> Changes:
    old = {s.uid: s for s in before if s.uid}
    kept = [s for s in after if s.uid in old]
    names_before, names_after = {s.section for s in before}, {s.section for s in after}
    return Changes(
        added=sum(1 for s in after if s.uid not in old),
        removed=len(old) - len(kept),
        moved=sum(1 for s in kept if (s.x, s.y) != (old[s.uid].x, old[s.uid].y)),
        renumbered=sum(1 for s in kept if s.key != old[s.uid].key),
        features=sum(1 for s in kept if s.features != old[s.uid].features),
        sections_added=tuple(sorted(names_after - names_before)),
        sections_removed=tuple(sorted(names_before - names_after)),
    )
