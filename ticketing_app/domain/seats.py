"""Seat states as the outside world sees them, and how seats are named for people."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from enum import StrEnum


class SeatStatus(StrEnum):
    """The contract's public statuses plus BLOCKED for production holds."""

    AVAILABLE = "AVAILABLE"
    HELD = "HELD"
    SOLD = "SOLD"
    BLOCKED = "BLOCKED"


# One-letter codes used inside Redis and on the live-sync wire (small payloads).
CODE_TO_STATUS = {
    "A": SeatStatus.AVAILABLE,
    "H": SeatStatus.HELD,
    "O": SeatStatus.HELD,  # locked by an order awaiting payment: held, to everyone else
    "S": SeatStatus.SOLD,
    "B": SeatStatus.BLOCKED,
}


def row_label(r: int) -> str:
    """Rows are lettered like a theatre: 1 -> A, 26 -> Z, 27 -> AA."""
    if r < 1:
        raise ValueError("rows count from 1")
    letters = ""
    while r:
        r, rem = divmod(r - 1, 26)
        letters = string.ascii_uppercase[rem] + letters
    return letters


def format_money(amount_minor: int, currency: str) -> str:
    """KRW and JPY have no minor unit; others show two decimals."""
    zero_decimal = {"KRW", "JPY", "VND", "CLP", "ISK"}
    if currency.upper() in zero_decimal:
        return f"{amount_minor:,} {currency}"
    return f"{amount_minor / 100:,.2f} {currency}"


def seat_label(section: str, r: int | str, c: int) -> str:
    """`r` is the row's number on the grid or its letters (Layout letters rows without gaps:
    domain/access.py `row_letters`)."""
    prefix = f"{section} " if section and section not in {"Main", "Floor"} else ""
    return f"{prefix}Row {r if isinstance(r, str) else row_label(r)} seat {c}"


def clamp_hold_seconds(requested: int | None, default: int, lo: int, hi: int) -> int:
    """The original clamps holdSeconds into its bounds instead of refusing."""
    if requested is None:
        return default
    return max(lo, min(hi, int(requested)))


# A hold the copy shows is refused from it only while it has at least this long left: the
# copy's clock is this host's, the hold's expiry was stamped by Redis's.
COPY_CLOCK_MARGIN_MS = 500


def refusal_from_copy(taken: Mapping[int, tuple[str, str, int]], seat_ids: Sequence[int],
                      my_tag: str, now_ms: int) -> tuple[str, list[str]] | None:
    """The hold script's answer for these seats if this process's copy of the seat map alone
    settles it, else None (ask the script).

    `taken` maps a seat that is not available to (code, holder tag, hold expiry ms): H held or
    in an order awaiting payment, S sold, B blocked. Only seats the copy shows taken by
    someone else decide: a seat it shows free, one the buyer may hold (their tag), or a hold
    about to end always goes to the script, so a success only ever comes from the script. The
    answer has the script's shape and precedence (sold or blocked before held): `('SOLD',
    ['12|SOLD', ...])` or `('CONFLICT', ['12|HELD', ...])`."""
    sold: list[str] = []
    held: list[str] = []
    for seat in seat_ids:
        t = taken.get(seat)
        if t is None:
            return None
        code, tag, until = t
        if code == "S":
            sold.append(f"{seat}|SOLD")
        elif code == "B":
            sold.append(f"{seat}|BLOCKED")
        elif code == "H" and tag != my_tag and until - now_ms > COPY_CLOCK_MARGIN_MS:
            held.append(f"{seat}|HELD")
        else:
            return None
    if sold:
        return "SOLD", sold
    return "CONFLICT", held
