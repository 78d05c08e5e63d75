"""The venue editor's pure rules: edits of an existing layout (rows, seats, sections,
renumbering, offsets, curves, features), the geometry of a curved row, and the validation a
layout passes before it is saved."""

from __future__ import annotations

import math

import pytest

from ticketing_app.domain import errors
from ticketing_app.domain.access import AISLE, COMPANION, WHEELCHAIR
from ticketing_app.domain.venue_editor import (
    EditSeat,
    add_row,
    add_seats,
    add_section,
    adopt_uids,
    arc_offsets,
    at_grid,
    changes,
    check_layout,
    curve_row,
    fingerprint,
    mark_new_aisles,
    move_seats,
    offset_row,
    remove_seats,
    remove_section,
    rename_section,
    renumber_row,
    rows,
    sections,
    set_feature,
    stored_place,
)


def hall(rows_: int = 3, cols: int = 6, section: str = "Stalls") -> tuple[EditSeat, ...]:
    uid = iter(range(1, 10_000))
    return tuple(at_grid(section, r, c, uid=next(uid))
                 for r in range(1, rows_ + 1) for c in range(1, cols + 1))


def row_of(seats: tuple[EditSeat, ...], r: int, section: str = "Stalls") -> list[EditSeat]:
    return sorted((s for s in seats if s.row == (section, r)), key=lambda s: s.x)


# ---- geometry -----------------------------------------------------------------------------
def test_arc_keeps_the_middle_and_brings_the_ends_toward_the_stage() -> None:
    xs = [1.0, 2.0, 3.0, 4.0, 5.0]
    up = arc_offsets(xs, 1.0)
    assert up[2] == 0 and up[0] == up[4] == 1.0
    assert 0 < up[1] == up[3] < 0.5  # an arc, not a V: the rise grows toward the ends
    # On one circle through the ends and the middle.
    half, sag = 2.0, 1.0
    radius = (half * half + sag * sag) / (2 * sag)
    for x, u in zip(xs, up, strict=True):
        assert math.isclose(math.hypot(x - 3.0, radius - u), radius, abs_tol=1e-3)


def test_arc_of_zero_is_straight_and_negative_bends_away() -> None:
    assert arc_offsets([1, 2, 3, 4], 0) == [0, 0, 0, 0]
    away = arc_offsets([1, 2, 3, 4], -0.5)
    assert away[0] == away[3] == -0.5 and away[1] == away[2] == 0


def test_curve_row_places_seats_on_an_arc_and_curving_again_replaces_it() -> None:
    seats = hall()
    curved = curve_row(seats, "Stalls", 1, 0.6)
    row = row_of(curved, 1)
    assert [s.c for s in row] == [1, 2, 3, 4, 5, 6]  # names unchanged
    assert [s.x for s in row] == [1, 2, 3, 4, 5, 6]  # only y moves
    assert row[0].y == row[-1].y == pytest.approx(1 - 0.6)
    assert row[2].y == row[3].y == 1  # the middle keeps the row's line
    again = row_of(curve_row(curved, "Stalls", 1, 0.3), 1)
    assert again[0].y == pytest.approx(1 - 0.3)
    straight = row_of(curve_row(curved, "Stalls", 1, 0), 1)
    assert {s.y for s in straight} == {1}
    check_layout(curved)  # row A has nothing in front of it


def test_curve_toward_a_straight_row_in_front_is_refused_as_overlap() -> None:
    seats = curve_row(hall(), "Stalls", 2, 0.6)
    with pytest.raises(errors.ValidationFailed, match="drawn on top of"):
        check_layout(seats)


def test_curve_needs_three_seats_and_a_bounded_amount() -> None:
    with pytest.raises(errors.ValidationFailed, match="at least 3"):
        curve_row(hall(1, 2), "Stalls", 1, 0.5)
    with pytest.raises(errors.ValidationFailed, match="curve must be between"):
        curve_row(hall(1, 4), "Stalls", 1, 9)


def test_offset_shifts_a_row_sideways_without_renaming_it() -> None:
    seats = offset_row(hall(), "Stalls", 2, 0.5)
    row = row_of(seats, 2)
    assert [s.x for s in row] == [1.5, 2.5, 3.5, 4.5, 5.5, 6.5]
    assert [s.c for s in row] == [1, 2, 3, 4, 5, 6]
    check_layout(seats)  # half a seat staggers: no overlap with rows A and C
    with pytest.raises(errors.ValidationFailed):
        offset_row(seats, "Stalls", 2, 80)


# ---- seats and rows -----------------------------------------------------------------------
def test_add_seats_on_either_side_keeps_the_numbering() -> None:
    seats = add_seats(hall(), "Stalls", 1, 2, "right")
    row = row_of(seats, 1)
    assert [s.c for s in row] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [s.x for s in row][-2:] == [7, 8]
    left = row_of(add_seats(hall(), "Stalls", 1, 1, "left"), 1)
    assert [(s.c, s.x) for s in left][:2] == [(1, 0.0), (2, 1.0)]
    # Numbered right to left: new seats on the right take the low numbers.
    rtl = renumber_row(hall(), "Stalls", 1, 1, "rtl")
    grown = row_of(add_seats(rtl, "Stalls", 1, 1, "right"), 1)
    assert [s.c for s in grown] == [7, 6, 5, 4, 3, 2, 1]


def test_renumber_from_a_start_and_from_the_right_moves_nothing() -> None:
    seats = renumber_row(hall(), "Stalls", 2, 101, "rtl")
    row = row_of(seats, 2)
    assert [s.c for s in row] == [106, 105, 104, 103, 102, 101]
    assert [s.x for s in row] == [1, 2, 3, 4, 5, 6]
    check_layout(seats)
    with pytest.raises(errors.ValidationFailed, match="first seat number"):
        renumber_row(hall(), "Stalls", 2, 0)
    with pytest.raises(errors.ValidationFailed, match="left to right"):
        renumber_row(hall(), "Stalls", 2, 1, "up")


def test_remove_and_move_seats() -> None:
    seats = remove_seats(hall(), [("Stalls", 1, 1), ("Stalls", 1, 2)])
    assert len(seats) == 16
    moved = move_seats(seats, [("Stalls", 3, 6)], 1.5, 0.5)
    seat = next(s for s in moved if s.key == ("Stalls", 3, 6))
    assert (seat.x, seat.y) == (7.5, 3.5)
    with pytest.raises(errors.ValidationFailed, match="Select seats"):
        remove_seats(seats, [])
    with pytest.raises(errors.ValidationFailed, match="no longer"):
        move_seats(seats, [("Stalls", 1, 1)], 1, 0)
    # Moved onto its neighbour: refused by the validation.
    with pytest.raises(errors.ValidationFailed, match="drawn on top of"):
        check_layout(move_seats(seats, [("Stalls", 3, 6)], -0.5, 0))


def test_add_row_behind_the_section() -> None:
    seats = add_row(hall(), "Stalls", 4)
    assert [(s.r, s.c, s.x, s.y) for s in row_of(seats, 4)] == [
        (4, 1, 1, 4), (4, 2, 2, 4), (4, 3, 3, 4), (4, 4, 4, 4)]
    check_layout(seats)


# ---- sections -----------------------------------------------------------------------------
def test_sections_without_a_cap_are_added_renamed_and_removed() -> None:
    seats = hall(2, 4)
    for i in range(6):  # more than the generator's first three slots
        seats = add_section(seats, f"Box {i}", 1, 3)
    check_layout(seats)
    assert sections(seats)[0] == "Stalls" and len(sections(seats)) == 7
    assert rows(seats)[:2] == [("Stalls", 1), ("Stalls", 2)]
    with pytest.raises(errors.ValidationFailed, match="already a section"):
        add_section(seats, "Box 1", 1, 1)
    renamed = rename_section(seats, "Box 0", "Balcony")
    assert "Balcony" in sections(renamed) and "Box 0" not in sections(renamed)
    with pytest.raises(errors.ValidationFailed, match="already a section"):
        rename_section(seats, "Box 0", "Stalls")
    with pytest.raises(errors.ValidationFailed, match="must not be empty"):
        rename_section(seats, "Box 0", "  ")
    assert "Box 2" not in sections(remove_section(seats, "Box 2"))


# ---- features -----------------------------------------------------------------------------
def test_wheelchair_and_companion_exclude_each_other() -> None:
    seats = set_feature(hall(), [("Stalls", 1, 1)], COMPANION, True)
    seats = set_feature(seats, [("Stalls", 1, 1)], WHEELCHAIR, True)
    seat = next(s for s in seats if s.key == ("Stalls", 1, 1))
    assert seat.features == {WHEELCHAIR}
    seats = set_feature(seats, [("Stalls", 1, 1)], WHEELCHAIR, False)
    assert next(s for s in seats if s.key == ("Stalls", 1, 1)).features == frozenset()
    with pytest.raises(errors.ValidationFailed):
        set_feature(seats, [("Stalls", 1, 1)], "balcony", True)
    both = (EditSeat("Stalls", 1, 1, 1, 1, frozenset({WHEELCHAIR, COMPANION})),)
    with pytest.raises(errors.ValidationFailed, match="both a wheelchair"):
        check_layout(both)


def test_a_new_row_end_becomes_an_aisle_seat() -> None:
    before = hall(1, 5)
    after = mark_new_aisles(before, remove_seats(before, [("Stalls", 1, 3)]))
    marked = {s.c for s in after if AISLE in s.features}
    assert marked == {2, 4}  # the old ends were aisle seats already when created


# ---- validation ---------------------------------------------------------------------------
def test_existing_rules_hold_duplicates_and_sections_sharing_a_place() -> None:
    dup = (*hall(1, 2), EditSeat("Stalls", 1, 2, 9, 9))
    with pytest.raises(errors.ValidationFailed, match="duplicate seat"):
        check_layout(dup)
    shared = (*hall(1, 2), EditSeat("Box", 1, 2, 9, 9))
    with pytest.raises(errors.ValidationFailed, match="overlaps section"):
        check_layout(shared)
    with pytest.raises(errors.ValidationFailed, match="at least one seat"):
        check_layout(())
    with pytest.raises(errors.ValidationFailed, match="run from 1"):
        check_layout((EditSeat("Stalls", 0, 1, 1, 1),))
    with pytest.raises(errors.ValidationFailed, match="control characters"):
        check_layout((EditSeat("Stalls\x00", 1, 1, 1, 1),))


def test_every_problem_is_listed() -> None:
    seats = (*hall(1, 3), EditSeat("Stalls", 2, 1, 1.2, 1.1), EditSeat("Stalls", 2, 2, 2.1, 1))
    with pytest.raises(errors.ValidationFailed) as err:
        check_layout(seats)
    assert len(err.value.details or []) >= 2
    assert "and" in err.value.message and "more problem" in err.value.message


# ---- storing and auditing -----------------------------------------------------------------
def test_a_seat_at_its_grid_place_is_stored_without_a_place() -> None:
    assert stored_place(at_grid("S", 2, 3)) == (None, None)
    assert stored_place(EditSeat("S", 2, 3, 3.5, 2)) == (3.5, None)


def test_changes_count_what_the_edit_did() -> None:
    before = hall(2, 3)
    after = renumber_row(before, "Stalls", 1, 10)
    after = offset_row(after, "Stalls", 2, 0.5)
    after = remove_seats(after, [("Stalls", 2, 3)])
    after = add_section(after, "Loge", 1, 2)
    done = changes(before, after)
    assert (done.added, done.removed, done.moved, done.renumbered) == (2, 1, 2, 3)
    assert done.sections_added == ("Loge",) and done.any
    # The REST API sends names, not uids: a seat of the same name is the stored seat.
    sent = tuple(EditSeat(s.section, s.r, s.c, s.x, s.y, s.features) for s in before)
    assert not changes(before, adopt_uids(before, sent)).any
    # ...or, renumbered, the stored seat drawn at the same place.
    turned = renumber_row(before, "Stalls", 1, 10, "rtl")
    sent = tuple(EditSeat(s.section, s.r, s.c, s.x, s.y, s.features) for s in turned)
    done = changes(before, adopt_uids(before, sent))
    assert (done.added, done.removed, done.renumbered) == (0, 0, 3)


def test_fingerprint_names_the_layout() -> None:
    assert fingerprint(hall()) == fingerprint(tuple(reversed(hall())))
    assert fingerprint(hall()) != fingerprint(offset_row(hall(), "Stalls", 1, 0.5))


# ---- the buyer's map draws the place --------------------------------------------------------
def test_the_buyers_map_places_offset_and_curved_seats() -> None:
    from ticketing_app.state.seat_map import SEAT_PITCH_PX, sections_of

    def entry(s: EditSeat) -> dict[str, object]:
        return {"section": s.section, "r": s.r, "c": s.c, "x": s.x, "y": s.y,
                "row": chr(64 + s.r)}

    seats = curve_row(offset_row(hall(2, 5), "Stalls", 2, 0.5), "Stalls", 1, 0.4)
    (sec,) = sections_of([entry(s) for s in seats])
    by = {(x["r"], x["c"]): x for x in sec["seats"]}
    # Row A's ends came 0.4 seat toward the stage: they take the grid's first row, nudged
    # down 0.6 seat (never up, where the map would cut them off); its middle is on row 2.
    assert (by[(1, 3)]["gr"], by[(1, 3)]["gc"], by[(1, 3)]["tf"]) == (2, 4, "none")
    assert by[(1, 1)]["gr"] == 1
    assert by[(1, 1)]["tf"] == f"translate(0.0px, {0.6 * SEAT_PITCH_PX:.1f}px)"
    # Row B shifted half a seat right: its cell, nudged half a seat; room kept on the right.
    assert (by[(2, 1)]["gr"], by[(2, 1)]["gc"]) == (3, 2)
    assert by[(2, 1)]["tf"] == "translate(20.0px, 0.0px)"
    assert (sec["pr"], sec["pb"]) == ("20px", "0")
    assert [lbl["label"] for lbl in sec["row_labels"]] == ["A", "B"]
    # A layout at its grid places draws exactly as before the editor.
    (plain,) = sections_of([entry(s) for s in hall(2, 3)])
    assert {x["tf"] for x in plain["seats"]} == {"none"} and plain["pb"] == plain["pr"] == "0"
    assert [(x["gr"], x["gc"]) for x in plain["seats"]][:3] == [(1, 2), (1, 3), (1, 4)]
