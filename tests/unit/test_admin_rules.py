"""Pure admin rules: layouts (generated and imported), event forms, status changes, the
page guard registry and ticket codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ticketing_app.domain import errors
from ticketing_app.domain.event_rules import (
    EventSettings,
    TierSpec,
    check_settings,
    check_tiers,
    check_transition,
)
from ticketing_app.domain.layouts import (
    GridSpec,
    Problems,
    layout_from_grids,
    parse_cells,
    parse_layout,
    parse_row,
    stack_grids,
)
from ticketing_app.domain.tickets import make_ticket_code, parse_ticket_code


def test_rows_as_numbers_or_letters() -> None:
    assert [parse_row(x) for x in (1, "1", "A", "z", "AA", "ab")] == [1, 1, 1, 26, 27, 28]
    for bad in ("0", "-1", "A1", "", True, "ABCD"):
        with pytest.raises(ValueError):
            parse_row(bad)


def test_cells_typed_by_a_person() -> None:
    assert parse_cells("B3, c4;  5-7  AA2") == {(2, 3), (3, 4), (5, 7), (27, 2)}
    assert parse_cells("") == frozenset()
    with pytest.raises(ValueError, match="not a seat position"):
        parse_cells("B")


def test_grid_gaps_aisles_and_stacking() -> None:
    grids = stack_grids([
        GridSpec("Floor", 3, 5, gaps=frozenset({(1, 1)}), aisle_cols=frozenset({3})),
        GridSpec("Balcony", 2, 4, aisle_rows=frozenset({1})),
    ])
    pos = layout_from_grids(grids)
    floor = [p for p in pos if p[0] == "Floor"]
    balcony = [p for p in pos if p[0] == "Balcony"]
    assert len(floor) == 3 * 4 - 1 and ("Floor", 1, 1) not in floor
    assert all(c != 3 for _, _, c in floor)
    assert {r for _, r, _ in balcony} == {6}  # rows 5-6 after one empty row; row 5 is an aisle
    assert len(set(pos)) == len(pos)


def test_overlapping_sections_and_bad_grids_list_every_problem() -> None:
    with pytest.raises(errors.ValidationFailed) as exc:
        layout_from_grids([GridSpec("A", 2, 2), GridSpec("B", 2, 2), GridSpec("", 0, 3)])
    assert "more problems" in exc.value.message
    details = exc.value.details or []
    assert any("overlaps section 'A'" in d["message"] for d in details)
    assert {"section 3"} <= {d["field"] for d in details}


def test_csv_import() -> None:
    pos = parse_layout("section,row,seat\nStalls,A,1\nStalls,A,2\n\nStalls,2,1\n", "csv")
    assert pos == [("Stalls", 1, 1), ("Stalls", 1, 2), ("Stalls", 2, 1)]
    with pytest.raises(errors.ValidationFailed, match="line 3: Stalls A1: duplicate seat"):
        parse_layout("Stalls,A,1\nStalls,B,1\nStalls,A,1", "csv")
    with pytest.raises(errors.ValidationFailed, match="empty"):
        parse_layout("   ", "csv")


def test_json_import_of_seats_and_of_sections() -> None:
    seats = parse_layout(json.dumps([{"section": "M", "row": "B", "seat": 3}]), "json")
    assert seats == [("M", 2, 3)]
    grids = parse_layout(json.dumps({"sections": [
        {"name": "L", "rows": 1, "cols": 2, "gaps": ["A1"]},
        {"name": "R", "rows": 1, "cols": 2}]}), "json")
    assert grids == [("L", 1, 2), ("R", 3, 1), ("R", 3, 2)]
    for bad, msg in [("[1, 2]", "each seat is an object"),
                     ('{"sections": [{"name": "X", "rows": "many", "cols": 2}]}',
                      "not a whole number"),
                     ("{", "malformed")]:
        with pytest.raises(errors.ValidationFailed, match=msg):
            parse_layout(bad, "json")


def test_event_settings_and_tiers() -> None:
    ok = EventSettings("Gala", datetime(2030, 1, 1, 19, tzinfo=UTC))
    check_settings(ok)
    with pytest.raises(errors.ValidationFailed, match="time zone"):
        check_settings(EventSettings("Gala", datetime(2030, 1, 1)))
    p = Problems()
    check_tiers([TierSpec("A", -5), TierSpec(" a ", 10, "#12345"), TierSpec("", 1)], p)
    messages = " ".join(i["message"] for i in p.items)
    assert "must not be negative" in messages and "used twice" in messages
    assert "is not like" in messages and "must not be empty" in messages


@pytest.mark.parametrize("current, new, ok", [
    ("DRAFT", "ON_SALE", True), ("ON_SALE", "CLOSED", True), ("CLOSED", "ON_SALE", True),
    ("DRAFT", "CLOSED", False), ("ON_SALE", "CANCELLED", False), ("CANCELLED", "ON_SALE", False),
])
def test_status_transitions(current: str, new: str, ok: bool) -> None:
    if ok:
        check_transition(current, new)
    else:
        with pytest.raises(errors.Conflict):
            check_transition(current, new)


def test_ticket_codes_are_signed() -> None:
    code = make_ticket_code("s3cret", 7, 42)
    assert parse_ticket_code("s3cret", code) == (7, 42)
    assert parse_ticket_code("other", code) is None
    assert parse_ticket_code("s3cret", code.replace("7-42", "7-43")) is None
    assert make_ticket_code("s3cret", 7, 42) != code  # a fresh nonce each time


def test_every_admin_page_is_registered_behind_the_guard() -> None:
    """A new admin page that skips the guard fails here (routes enumerated from the app)."""
    import ticketing_app.ticketing_app as web
    from ticketing_app.components.admin_layout import ADMIN_PAGES
    from ticketing_app.pages.admin import OPEN_ADMIN_ROUTES
    from ticketing_app.state.admin import AdminState

    guarded = {p.route.strip("/") for p in ADMIN_PAGES}
    open_routes = {r.strip("/") for r in OPEN_ADMIN_ROUTES}
    admin_routes = {r for r in web.app._unevaluated_pages if r.startswith("admin")}
    assert admin_routes == guarded | open_routes
    for page in ADMIN_PAGES:
        assert page.on_load[0] is AdminState.guard, page.route
