"""Seat states as the outside world sees them, and how seats are named for people."""

from __future__ import annotations

import string
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


def seat_label(section: str, r: int, c: int) -> str:
    prefix = f"{section} " if section and section not in {"Main", "Floor"} else ""
    return f"{prefix}Row {row_label(r)} seat {c}"


def clamp_hold_seconds(requested: int | None, default: int, lo: int, hi: int) -> int:
    """The original clamps holdSeconds into its bounds instead of refusing."""
    if requested is None:
        return default
    return max(lo, min(hi, int(requested)))
