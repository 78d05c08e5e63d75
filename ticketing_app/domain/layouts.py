"""Venue layouts: generated grids and imported CSV/JSON, validated as a whole.

A layout is a list of seat positions `(section, r, c)` on one grid: `r` and `c` are where the
seat is drawn on the buyer's map (rows lettered A, B, ...). Sections are areas of that one grid,
so two sections never share a position. Nothing here touches a database: a layout is either
fully valid or refused with every problem listed, so an import never writes half a venue.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ticketing_app.domain import errors
from ticketing_app.domain.access import COMPANION, RESTRICTED, WHEELCHAIR, parse_features
from ticketing_app.domain.seats import row_label

MAX_GRID = 200  # rows or columns of one section
MAX_SEATS = 20_000  # per venue
MAX_DETAILS = 20  # problems listed in one error
SECTION_NAME_MAX = 60
_ROW_LETTERS = re.compile(r"^[A-Za-z]{1,3}$")
_POSITION = re.compile(r"^([A-Za-z]{1,3}|\d{1,3}[-:/])(\d{1,3})$")

Position = tuple[str, int, int]
# What a seat offers beyond a place to sit (domain/access.py); seats without any are absent.
Features = dict[Position, frozenset[str]]


@dataclass(frozen=True)
class GridSpec:
    """A rectangular block of seats. `gaps` are (row, col) cells with no seat (a pillar, a
    wheelchair space); `aisle_cols` / `aisle_rows` leave whole columns / rows empty. `row_offset`
    and `col_offset` place the block on the venue's grid (stack sections without overlap).
    `wheelchair`, `companion` and `restricted` are (row, col) cells of the block with that
    feature (aisle seats are found by themselves: domain/access.py)."""

    section: str
    rows: int
    cols: int
    gaps: frozenset[tuple[int, int]] = frozenset()
    aisle_cols: frozenset[int] = frozenset()
    aisle_rows: frozenset[int] = frozenset()
    row_offset: int = 0
    col_offset: int = 0
    wheelchair: frozenset[tuple[int, int]] = frozenset()
    companion: frozenset[tuple[int, int]] = frozenset()
    restricted: frozenset[tuple[int, int]] = frozenset()

    def features(self) -> Features:
        """The block's seats with features, at their place on the venue's grid."""
        out: dict[Position, set[str]] = {}
        for name, cells in ((WHEELCHAIR, self.wheelchair), (COMPANION, self.companion),
                            (RESTRICTED, self.restricted)):
            for r, c in cells:
                out.setdefault((self.section.strip(), r + self.row_offset,
                                c + self.col_offset), set()).add(name)
        return {k: frozenset(v) for k, v in out.items()}


@dataclass
class Problems:
    """Collects every problem of an input, then raises them as one clear error."""

    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.items.append({"field": where, "message": message})

    def raise_if_any(self, summary: str) -> None:
        if not self.items:
            return
        n = len(self.items)
        shown = self.items[:MAX_DETAILS]
        first = shown[0]
        raise errors.ValidationFailed(
            f"{summary}: {first['field']}: {first['message']}"
            + (f" (and {n - 1} more problem{'s' if n > 2 else ''})" if n > 1 else ""),
            shown,
        )


def parse_row(value: object) -> int:
    """Rows are given as numbers (1) or theatre letters (A, AA)."""
    if isinstance(value, bool):
        raise ValueError("row must be a number or letters")
    if isinstance(value, int):
        if value < 1:
            raise ValueError("row must be 1 or more")
        return value
    text = str(value).strip()
    if text.isdigit():
        n = int(text)
        if n < 1:
            raise ValueError("row must be 1 or more")
        return n
    if _ROW_LETTERS.match(text):
        n = 0
        for ch in text.upper():
            n = n * 26 + (ord(ch) - ord("A") + 1)
        return n
    raise ValueError(f"row {text!r} is not a number or letters")


def parse_positive(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number")
    if isinstance(value, int):
        n = value
    else:
        text = str(value).strip()
        if not re.fullmatch(r"-?\d+", text):
            raise ValueError(f"{name} {text!r} is not a whole number")
        n = int(text)
    if n < 1:
        raise ValueError(f"{name} must be 1 or more (got {n})")
    return n


def parse_cells(text: str) -> frozenset[tuple[int, int]]:
    """`"B3, C4 5-7"` -> {(2, 3), (3, 4), (5, 7)}: gap cells typed by a person."""
    out: set[tuple[int, int]] = set()
    for token in re.split(r"[,;\s]+", text.strip()):
        if not token:
            continue
        m = _POSITION.match(token)
        if not m:
            raise ValueError(f"{token!r} is not a seat position like B3")
        out.add((parse_row(m.group(1).rstrip("-:/")), int(m.group(2))))
    return frozenset(out)


def parse_numbers(text: str) -> frozenset[int]:
    """`"5, 10"` -> {5, 10}: aisle columns or rows typed by a person (rows may be letters)."""
    out: set[int] = set()
    for token in re.split(r"[,;\s]+", text.strip()):
        if token:
            out.add(parse_row(token))
    return frozenset(out)


def check_section_name(name: object, where: str, problems: Problems) -> str:
    text = str(name or "").strip()
    if not text:
        problems.add(where, "section name must not be empty")
    elif len(text) > SECTION_NAME_MAX:
        problems.add(where, f"section name longer than {SECTION_NAME_MAX} characters")
    return text


def grid_positions(spec: GridSpec, problems: Problems | None = None,
                   where: str = "section") -> list[Position]:
    own = problems or Problems()
    name = check_section_name(spec.section, where, own)
    if not (1 <= spec.rows <= MAX_GRID and 1 <= spec.cols <= MAX_GRID):
        own.add(where, f"rows and columns must be between 1 and {MAX_GRID}")
    if spec.row_offset < 0 or spec.col_offset < 0:
        own.add(where, "offsets must not be negative")
    for r, c in sorted(spec.gaps):
        if not (1 <= r <= spec.rows and 1 <= c <= spec.cols):
            own.add(where, f"gap {row_label(r) if r >= 1 else r}{c} is outside the grid")
    for c in sorted(spec.aisle_cols):
        if not 1 <= c <= spec.cols:
            own.add(where, f"aisle column {c} is outside the grid")
    for r in sorted(spec.aisle_rows):
        if not 1 <= r <= spec.rows:
            own.add(where, f"aisle row {r} is outside the grid")
    for r, c in sorted(spec.wheelchair | spec.companion | spec.restricted):
        if not (1 <= r <= spec.rows and 1 <= c <= spec.cols) or (r, c) in spec.gaps or \
                r in spec.aisle_rows or c in spec.aisle_cols:
            own.add(where, f"marked seat {row_label(r) if r >= 1 else r}{c} is not a seat "
                           "of the grid")
    if spec.wheelchair & spec.companion:
        own.add(where, "a seat cannot be both a wheelchair space and a companion seat")
    if problems is None:
        own.raise_if_any("Invalid layout")
    if own.items:
        return []
    return [
        (name, r + spec.row_offset, c + spec.col_offset)
        for r in range(1, spec.rows + 1) if r not in spec.aisle_rows
        for c in range(1, spec.cols + 1)
        if c not in spec.aisle_cols and (r, c) not in spec.gaps
    ]


def check_positions(positions: Sequence[Position], problems: Problems) -> list[Position]:
    """Every seat on its own cell; the venue has seats, and not too many."""
    seen: dict[tuple[int, int], str] = {}
    for section, r, c in positions:
        other = seen.get((r, c))
        if other is not None:
            what = "duplicate seat" if other == section else f"overlaps section {other!r}"
            problems.add(f"{section} {row_label(r)}{c}", what)
        else:
            seen[(r, c)] = section
    if not positions and not problems.items:
        problems.add("layout", "a venue needs at least one seat")
    if len(positions) > MAX_SEATS:
        problems.add("layout", f"at most {MAX_SEATS} seats per venue (got {len(positions)})")
    return list(positions)


def layout_from_grids(grids: Iterable[GridSpec]) -> list[Position]:
    return layout_and_features_from_grids(grids)[0]


def layout_and_features_from_grids(grids: Iterable[GridSpec]) -> tuple[list[Position],
                                                                        Features]:
    grids = list(grids)
    features: Features = {}
    for g in grids:
        features.update(g.features())
    return _positions_of_grids(grids), features


def _positions_of_grids(grids: Iterable[GridSpec]) -> list[Position]:
    problems = Problems()
    positions: list[Position] = []
    for i, g in enumerate(grids, 1):
        positions.extend(grid_positions(g, problems, where=f"section {i}"))
    check_positions(positions, problems)
    problems.raise_if_any("Invalid layout")
    return positions


def stack_grids(grids: Sequence[GridSpec], gap_rows: int = 1) -> list[GridSpec]:
    """Places sections one under the other with `gap_rows` empty rows between them."""
    out: list[GridSpec] = []
    top = 0
    for g in grids:
        out.append(GridSpec(g.section, g.rows, g.cols, g.gaps, g.aisle_cols, g.aisle_rows,
                            row_offset=top, col_offset=g.col_offset, wheelchair=g.wheelchair,
                            companion=g.companion, restricted=g.restricted))
        top += max(g.rows, 0) + gap_rows
    return out


# ---- imports ----------------------------------------------------------------------------
def parse_layout(content: str, fmt: str) -> list[Position]:
    return parse_layout_features(content, fmt)[0]


def parse_layout_features(content: str, fmt: str) -> tuple[list[Position], Features]:
    """A layout from CSV (`section,row,seat[,features]` per line, a header optional;
    features like `wheelchair;aisle`) or JSON (`{"seats": [{"section", "row", "seat",
    "features"}]}` or `{"sections": [grid..., with "wheelchair"/"companion"/"restricted"
    lists of cells like "A3"]}`), with the seats' features."""
    fmt = fmt.strip().lower()
    if not content.strip():
        raise errors.ValidationFailed("The import is empty.",
                                      [{"field": "content", "message": "empty"}])
    if fmt == "csv":
        return _parse_csv(content)
    if fmt == "json":
        return _parse_json(content)
    raise errors.ValidationFailed(f"Unknown import format {fmt!r}; use csv or json.",
                                  [{"field": "format", "message": "csv or json"}])


def _parse_csv(content: str) -> tuple[list[Position], Features]:
    problems = Problems()
    positions: list[Position] = []
    features: Features = {}
    seen: dict[tuple[int, int], tuple[str, str]] = {}
    rows = list(csv.reader(io.StringIO(content.strip())))
    start = 0
    if rows and [h.strip().lower() for h in rows[0]][:3] in (
            ["section", "row", "seat"], ["section", "row", "col"], ["section", "r", "c"]):
        start = 1
    for n, raw in enumerate(rows[start:], start + 1):
        if not any(cell.strip() for cell in raw):
            continue
        where = f"line {n}"
        if len(raw) not in (3, 4):
            problems.add(where, f"expected 3 or 4 values (section,row,seat[,features]), "
                                f"got {len(raw)}")
            continue
        _add_seat(raw[0], raw[1], raw[2], where, problems, positions, seen)
        if len(raw) == 4:
            _add_features(raw[3], positions, where, problems, features)
    check_positions(positions, problems)
    problems.raise_if_any("Invalid CSV layout")
    return positions, features


def _add_features(value: object, positions: list[Position], where: str, problems: Problems,
                  features: Features) -> None:
    """The features of the seat just added (the last position)."""
    try:
        found = parse_features(value)
    except ValueError as exc:
        problems.add(where, str(exc))
        return
    if WHEELCHAIR in found and COMPANION in found:
        problems.add(where, "a seat cannot be both a wheelchair space and a companion seat")
    elif found and positions:
        features[positions[-1]] = found


def _add_seat(section: object, row: object, seat: object, where: str, problems: Problems,
              positions: list[Position],
              seen: dict[tuple[int, int], tuple[str, str]] | None = None) -> None:
    name = check_section_name(section, where, problems)
    try:
        r = parse_row(row)
        c = parse_positive(seat, "seat")
    except ValueError as exc:
        problems.add(where, str(exc))
        return
    if r > MAX_GRID * 5 or c > MAX_GRID * 5:
        problems.add(where, f"row or seat beyond {MAX_GRID * 5}")
        return
    if not name:
        return
    if seen is not None:
        other = seen.get((r, c))
        if other is not None:
            what = "duplicate seat" if other[0] == name else f"overlaps section {other[0]!r}"
            problems.add(where, f"{name} {row_label(r)}{c}: {what} (first at {other[1]})")
            return
        seen[(r, c)] = (name, where)
    positions.append((name, r, c))


def _parse_json(content: str) -> tuple[list[Position], Features]:
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        raise errors.ValidationFailed(
            f"The JSON is malformed: {exc.msg} at line {exc.lineno} column {exc.colno}.",
            [{"field": "content", "message": "malformed JSON"}]) from None
    problems = Problems()
    positions: list[Position] = []
    features: Features = {}
    seen: dict[tuple[int, int], tuple[str, str]] = {}
    if isinstance(data, list):
        data = {"seats": data}
    if not isinstance(data, dict) or not ({"seats", "sections"} & set(data)):
        raise errors.ValidationFailed(
            'The JSON needs a "seats" list or a "sections" list.',
            [{"field": "content", "message": "missing seats/sections"}])
    for i, s in enumerate(data.get("seats") or [], 1):
        where = f"seats[{i}]"
        if not isinstance(s, dict):
            problems.add(where, "each seat is an object with section, row and seat")
            continue
        before = len(positions)
        _add_seat(s.get("section", ""), s.get("row", s.get("r")), s.get("seat", s.get("c")),
                  where, problems, positions, seen)
        if len(positions) > before and s.get("features"):
            _add_features(s.get("features"), positions, where, problems, features)
    grids: list[GridSpec] = []
    for i, g in enumerate(data.get("sections") or [], 1):
        where = f"sections[{i}]"
        if not isinstance(g, dict):
            problems.add(where, "each section is an object with name, rows and cols")
            continue
        try:
            grids.append(GridSpec(
                section=str(g.get("name", g.get("section", "")) or ""),
                rows=parse_positive(g.get("rows"), "rows"),
                cols=parse_positive(g.get("cols"), "cols"),
                gaps=frozenset(_cell(x) for x in g.get("gaps") or []),
                aisle_cols=frozenset(parse_positive(x, "aisle column")
                                     for x in g.get("aisleCols") or []),
                aisle_rows=frozenset(parse_row(x) for x in g.get("aisleRows") or []),
                row_offset=int(g.get("rowOffset", 0) or 0),
                col_offset=int(g.get("colOffset", 0) or 0),
                wheelchair=frozenset(_cell(x) for x in g.get("wheelchair") or []),
                companion=frozenset(_cell(x) for x in g.get("companion") or []),
                restricted=frozenset(_cell(x) for x in g.get("restricted") or []),
            ))
        except (ValueError, TypeError) as exc:
            problems.add(where, str(exc))
    if grids and not any("rowOffset" in g for g in data.get("sections") or []
                         if isinstance(g, dict)):
        grids = stack_grids(grids)
    for i, g in enumerate(grids, 1):
        positions.extend(grid_positions(g, problems, where=f"sections[{i}]"))
        features.update(g.features())
    check_positions(positions, problems)
    problems.raise_if_any("Invalid JSON layout")
    return positions, features


def _cell(value: object) -> tuple[int, int]:
    if isinstance(value, list | tuple) and len(value) == 2:
        return parse_row(value[0]), parse_positive(value[1], "gap column")
    cells = parse_cells(str(value))
    if len(cells) != 1:
        raise ValueError(f"gap {value!r} is not one seat position")
    return next(iter(cells))
