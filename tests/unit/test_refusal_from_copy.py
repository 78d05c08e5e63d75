"""The rule for refusing a hold from a process's copy of the seat map (pure): only seats the
copy shows sold, blocked or held by someone else settle it, in the script's precedence; a free
seat, a seat of one's own or a hold about to end always goes to the script."""

from __future__ import annotations

from ticketing_app.domain.seats import COPY_CLOCK_MARGIN_MS, refusal_from_copy

NOW = 1_000_000
LATER = NOW + 60_000
TAKEN = {1: ("S", "", 0), 2: ("B", "", 0), 3: ("H", "other", LATER), 4: ("H", "mine", LATER),
         5: ("H", "other", NOW + COPY_CLOCK_MARGIN_MS - 1)}


def test_sold_blocked_and_held_by_others_are_refused_with_the_scripts_answer() -> None:
    assert refusal_from_copy(TAKEN, [1], "mine", NOW) == ("SOLD", ["1|SOLD"])
    assert refusal_from_copy(TAKEN, [2], "mine", NOW) == ("SOLD", ["2|BLOCKED"])
    assert refusal_from_copy(TAKEN, [3], "mine", NOW) == ("CONFLICT", ["3|HELD"])


def test_sold_or_blocked_come_before_held_as_in_the_script() -> None:
    assert refusal_from_copy(TAKEN, [3, 1, 2], "mine", NOW) == ("SOLD", ["1|SOLD", "2|BLOCKED"])


def test_anything_the_copy_cannot_settle_goes_to_the_script() -> None:
    assert refusal_from_copy(TAKEN, [9], "mine", NOW) is None  # free
    assert refusal_from_copy(TAKEN, [4], "mine", NOW) is None  # mine: the script refreshes it
    assert refusal_from_copy(TAKEN, [5], "mine", NOW) is None  # about to end (clock margin)
    assert refusal_from_copy(TAKEN, [3, 9], "mine", NOW) is None  # one free seat: ask
    assert refusal_from_copy(TAKEN, [3], "mine", LATER) is None  # its expiry passed
