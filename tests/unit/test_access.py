"""Accessible seating's pure rules: features parsed from imports and grids (a typo is refused,
never dropped), aisle seats found by themselves, rows lettered without gaps, and who may hold a
wheelchair space when."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ticketing_app.domain import errors
from ticketing_app.domain.access import (
    aisle_seats,
    format_features,
    may_hold_wheelchair,
    parse_features,
    row_letters,
    stored_features,
    wheelchair_open_to_all,
)
from ticketing_app.domain.layouts import (
    GridSpec,
    layout_and_features_from_grids,
    parse_layout_features,
    stack_grids,
)
from ticketing_app.domain.seat_layout import Layout, SeatInfo, accessible_companions_max


def test_features_parse_and_store_in_a_fixed_order() -> None:
    assert parse_features("aisle; WC") == {"aisle", "wheelchair"}
    assert parse_features(["restricted view", "c"]) == {"restricted", "companion"}
    assert parse_features("") == frozenset()
    with pytest.raises(ValueError, match="unknown seat feature 'wheelchiar'"):
        parse_features("wheelchiar")
    text = format_features({"aisle", "wheelchair"})
    assert text == "wheelchair,aisle" and stored_features(text) == {"wheelchair", "aisle"}


def test_aisle_seats_are_the_ends_of_each_run() -> None:
    seats = [("Main", 1, c) for c in (1, 2, 3, 5, 6)]
    assert aisle_seats(seats) == {("Main", 1, 1), ("Main", 1, 3), ("Main", 1, 5),
                                  ("Main", 1, 6)}


def test_rows_are_lettered_without_gaps() -> None:
    # Stalls rows 1-6, an empty row 7 between the sections, balcony rows 8-10: G, H, I.
    grids = stack_grids([GridSpec("Stalls", 6, 4), GridSpec("Balcony", 3, 4)])
    positions, _ = layout_and_features_from_grids(grids)
    assert sorted({r for s, r, _ in positions if s == "Balcony"}) == [8, 9, 10]
    letters = row_letters(r for _, r, _ in positions)
    assert [letters[r] for r in (6, 8, 9, 10)] == ["F", "G", "H", "I"]
    info = SeatInfo(1, "Balcony", 8, 2, 100, None, "", "#000", row_name=letters[8])
    assert info.label == "Balcony Row G seat 2"


def test_grid_features_land_on_the_venue_grid_and_bad_marks_are_refused() -> None:
    grids = stack_grids([GridSpec("Stalls", 2, 4),
                         GridSpec("Balcony", 2, 4, wheelchair=frozenset({(1, 1)}),
                                  companion=frozenset({(1, 2)}))])
    _, features = layout_and_features_from_grids(grids)
    assert features == {("Balcony", 4, 1): {"wheelchair"}, ("Balcony", 4, 2): {"companion"}}
    with pytest.raises(errors.ValidationFailed, match="not a seat of the grid"):
        layout_and_features_from_grids([GridSpec("Main", 2, 2, gaps=frozenset({(1, 1)}),
                                                 wheelchair=frozenset({(1, 1)}))])
    with pytest.raises(errors.ValidationFailed, match="both a wheelchair space"):
        layout_and_features_from_grids([GridSpec("Main", 2, 2, wheelchair=frozenset({(1, 1)}),
                                                 companion=frozenset({(1, 1)}))])


def test_imports_carry_features() -> None:
    csv_text = "section,row,seat,features\nMain,A,1,wheelchair\nMain,A,2,companion;aisle\n" \
               "Main,A,3\n"
    positions, features = parse_layout_features(csv_text, "csv")
    assert len(positions) == 3
    assert features == {("Main", 1, 1): {"wheelchair"}, ("Main", 1, 2): {"companion", "aisle"}}
    with pytest.raises(errors.ValidationFailed, match="unknown seat feature"):
        parse_layout_features("Main,A,1,wheelchiar\n", "csv")
    doc = {"sections": [{"name": "Floor", "rows": 2, "cols": 4, "wheelchair": ["B1"],
                         "companion": ["B2"], "restricted": ["A4"]}]}
    _, features = parse_layout_features(json.dumps(doc), "json")
    assert features == {("Floor", 2, 1): {"wheelchair"}, ("Floor", 2, 2): {"companion"},
                        ("Floor", 1, 4): {"restricted"}}
    seats = {"seats": [{"section": "Main", "row": "A", "seat": 1, "features": ["wc"]}]}
    assert parse_layout_features(json.dumps(seats), "json")[1] == {
        ("Main", 1, 1): {"wheelchair"}}


def test_who_may_hold_a_wheelchair_space_and_when() -> None:
    start = datetime(2027, 3, 1, 10, 30, tzinfo=UTC)
    early, late = start - timedelta(hours=49), start - timedelta(hours=47)
    assert not may_hold_wheelchair("declared", 48, start, early, declared=False)
    assert may_hold_wheelchair("declared", 48, start, early, declared=True)
    assert may_hold_wheelchair("declared", 48, start, late, declared=False)
    assert not wheelchair_open_to_all("declared", 0, start, late)  # 0: never released
    assert wheelchair_open_to_all("everyone", 0, start, early)


def test_companions_counted_beside_each_wheelchair_space() -> None:
    def seat(i: int, c: int, *features: str) -> SeatInfo:
        return SeatInfo(i, "Main", 1, c, 1, None, "", "#000", frozenset(features))

    layout = Layout(1, 1, 6, "KRW", (seat(1, 1, "companion"), seat(2, 2, "wheelchair"),
                                     seat(3, 3, "companion"), seat(4, 4, "companion"),
                                     seat(5, 5), seat(6, 6, "wheelchair")))
    assert accessible_companions_max(layout) == 3
    assert accessible_companions_max(Layout(1, 1, 1, "KRW", (seat(1, 1),))) == -1


def test_a_click_that_arrives_long_after_it_was_made_is_stale() -> None:
    from ticketing_app.state.seat_map import stale_click

    now = 1_000_000
    assert stale_click(now - 60_000, now, 10)  # queued a minute ago, sent on reconnect
    assert not stale_click(now - 800, now, 10)
    assert not stale_click(-1, now, 10)  # the page had not heard the server's clock yet
    assert not stale_click(now - 60_000, now, 0)  # 0 keeps every click
