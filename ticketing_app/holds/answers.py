"""What the hold scripts answer, typed: results, seat states, snapshots, what an event's state
is loaded from, the abuse limits a claim is counted against; and the scripts' refusals as
domain errors, mapped here once (the refusals from this process's copy of the seat map use the
same mapping, so both read the same)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ticketing_app.domain import errors
from ticketing_app.holds.keys import EventKeys


@dataclass(frozen=True)
class HoldResult:
    expires_at_ms: int
    version: int
    newly_held: int
    hold_seconds: int = 0  # as clamped by the event's bounds, inside the script


@dataclass(frozen=True)
class SeatState:
    """One seat's state as Redis has it; `code` is A/H/O/S/B."""

    code: str
    buyer: str = ""
    token: str = ""
    expires_at_ms: int = 0
    tag: str = ""


@dataclass
class Snapshot:
    version: int
    now_ms: int
    states: dict[int, SeatState] = field(default_factory=dict)

    def public_code(self, seat_id: int) -> str:
        s = self.states.get(seat_id)
        if s is None:
            return "A"
        if s.code in ("H", "O"):
            return "H" if s.expires_at_ms > self.now_ms else "A"
        return s.code


@dataclass(frozen=True)
class BestResult:
    seat_ids: list[int]
    expires_at_ms: int
    version: int


# Best-available index: tier key -> rows in best-first order, each (row key, min col + max col
# of the whole row, [(seat id, col), ...] of the tier's seats in that row by column).
TierRows = dict[str, list[tuple[str, int, list[tuple[int, int]]]]]


@dataclass(frozen=True)
class LoadData:
    """What the database says an event's Redis state must hold."""

    meta: dict[str, Any]
    seats: list[tuple[int, str, int]]  # (seat id, row key, column)
    sold: list[tuple[int, str, str]]  # (seat id, order lock token, buyer)
    blocked: list[int]
    locks: list[tuple[int, str, str, int, str]]  # (seat, token, buyer, deadline ms, tag)
    rows: TierRows = field(default_factory=dict)
    kinds: dict[int, str] = field(default_factory=dict)  # seat -> 'W' / 'C' (domain/access.py)


def decode(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def seat_details(items: Sequence[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for raw in items:
        seat, _, status = decode(raw).partition("|")
        out.append({"seatId": int(seat), "status": status or "UNAVAILABLE"})
    return out


@dataclass(frozen=True)
class ClaimLimits:
    """The abuse limits a new claim is counted against, inside its script's round trip:
    attempts per minute of the buyer and of the client address (0 = no limit)."""

    buyer_per_minute: int = 0
    address: str = ""
    address_per_minute: int = 0

    def keys(self, event_id: int, buyer: str) -> list[str]:
        """KEYS[13..15] of a new claim: the two attempt counters, then the presale buyers."""
        window = int(time.time() // 60)
        k = EventKeys(event_id)
        return [k.attempts("b", buyer, window), k.attempts("a", self.address or "-", window),
                k.presale_buyers]

    def args(self) -> list[int]:
        return [max(0, self.buyer_per_minute),
                max(0, self.address_per_minute) if self.address else 0]


NO_LIMITS = ClaimLimits()


def claim_refusal(res: Sequence[Any]) -> errors.DomainError | None:
    """The domain error of a refusal of a new claim (hold, best available), or None when `res`
    is no refusal; also what a refusal from this process's copy of the seat map answers, so
    both read the same. Built, not raised: the copy's refusals are returned to the hot route."""
    code = res[0]
    if code == "RATE":
        return errors.RateLimited(
            retry_after=max(1, int(res[3])), scope=decode(res[1]),
            message=f"Too many hold requests; the limit is {int(res[2])} per minute.")
    if code == "SALES_CLOSED":
        return errors.SalesClosed()
    if code == "PRESALE":
        opens = datetime.fromtimestamp(int(res[2]) / 1000, UTC).isoformat().replace(
            "+00:00", "Z")
        return errors.SalesClosed(
            f"This event is in its presale: enter an access code, or wait for the public "
            f"sale at {opens}.",
            [{"field": "accessCode", "message": f"required before {opens}"}])
    if code == "ADMISSION":
        return errors.Unauthenticated(
            "The waiting room is on for this event: join the queue and use the admission "
            "token it gives you (X-Admission-Token).",
            [{"field": "X-Admission-Token", "message": "missing, invalid or expired"}],
        )
    if code == "UNKNOWN":
        return errors.ValidationFailed(
            "No such seat in this event.",
            [{"field": "seatIds", "message": f"unknown seat {decode(s)}"} for s in res[1]],
        )
    if code == "SOLD":
        details = seat_details(res[1])
        blocked = all(d["status"] == "BLOCKED" for d in details)
        return errors.SeatSold(
            "This seat is not for sale." if blocked else "This seat is already sold.",
            details,
        )
    if code == "CONFLICT":
        details = seat_details(res[1])
        if any(d["status"] == "ORDERED" for d in details):
            return errors.ReservationConflict(
                "This seat is already in one of your orders awaiting payment.", details
            )
        return errors.ReservationConflict("Someone else is holding this seat.", details)
    if code == "LIMIT":
        return errors.LimitExceeded(
            f"You can have at most {res[2]} seats for this event (you have {res[1]}).",
            [{"field": "seatIds", "message": f"limit {res[2]}, already {res[1]}"}],
        )
    if code == "ORPHAN":
        return errors.OrphanSeat(
            "This would leave a single empty seat between taken seats; "
            "choose seats next to each other or next to the aisle.",
            [{"seatId": int(res[1]), "status": "ORPHAN"}],
        )
    return None


def raise_claim_refusal(res: Sequence[Any]) -> None:
    """Raises a new claim's refusal (nothing when `res` is none)."""
    if (exc := claim_refusal(res)) is not None:
        raise exc


def seat_in_order(what: str, items: Sequence[Any]) -> errors.SeatInOrder:
    """A release or extend of a seat that is in an order (awaiting payment, or paid): it is
    not a hold any more; the order decides what happens to it."""
    details = seat_details(items)
    if all(d["status"] == "SOLD" for d in details):
        return errors.SeatInOrder(f"This seat is sold; it cannot be {what}.", details)
    return errors.SeatInOrder(
        f"This seat is in an order awaiting payment; it cannot be {what} (the order keeps "
        "it until its payment window ends).", details)


def parse_state(raw: str) -> SeatState:
    p = raw.split("|")
    kind = p[0]
    if kind == "H":
        return SeatState("H", buyer=p[1], expires_at_ms=int(p[2]), tag=p[4])
    if kind == "O":
        return SeatState("O", token=p[1], buyer=p[2], expires_at_ms=int(p[3]), tag=p[4])
    if kind == "S":
        return SeatState("S", token=p[1], buyer=p[2])
    return SeatState("B")


def release_refusal(res: Sequence[Any]) -> errors.DomainError:
    """Why a release was refused."""
    code = res[0]
    if code == "EXPIRED":
        return errors.ReservationExpired(
            "Your hold has expired.", [{"seatId": int(s), "status": "EXPIRED"} for s in res[1]]
        )
    if code == "FORBIDDEN":
        return errors.Forbidden(
            "This seat is held by someone else.",
            [{"seatId": int(s), "status": "HELD"} for s in res[1]],
        )
    if code == "IN_ORDER":
        return seat_in_order("released", res[1])
    if code == "CONFLICT":
        return errors.ReservationConflict(
            "This seat cannot be released: it is blocked by the organiser.",
            seat_details(res[1]),
        )
    if code == "ORPHAN":
        return errors.OrphanSeat(
            "Releasing this seat would leave it as a single empty seat between taken "
            "seats; release its neighbours too.",
            [{"seatId": int(res[1]), "status": "ORPHAN"}],
        )
    raise RuntimeError(f"unexpected release answer {res!r}")


def extend_refusal(res: Sequence[Any]) -> errors.DomainError:
    """Why an extension was refused."""
    if res[0] == "FORBIDDEN":
        return errors.Forbidden("This seat is held by someone else.")
    if res[0] == "IN_ORDER":
        return seat_in_order("extended", res[1])
    return errors.ReservationExpired(
        "Your hold has expired.", [{"seatId": int(s), "status": "EXPIRED"} for s in res[1]]
    )


def lock_refusal(res: Sequence[Any]) -> errors.DomainError:
    """Why the buyer's holds could not become an order's lock."""
    code = res[0]
    if code == "SOLD":
        return errors.SeatSold("A seat in this order is already sold.", seat_details(res[1]))
    if code == "FORBIDDEN":
        return errors.ReservationConflict(
            "A seat is already in another of your orders.",
            [{"seatId": int(s), "status": "ORDERED"} for s in res[1]],
        )
    if code == "CONFLICT":
        return errors.ReservationConflict(
            "Someone else is holding these seats; you can order only seats you hold.",
            seat_details(res[1]),
        )
    if code == "ORPHAN":
        return errors.OrphanSeat(
            "Ordering this seat without its neighbours that you hold would leave it "
            "stranded between them if the order is not paid; order them together or "
            "release them first.",
            [{"seatId": int(res[1]), "status": "ORPHAN"}],
        )
    return errors.ReservationExpired(
        "Your hold on these seats has expired; choose them again.",
        [{"seatId": int(s), "status": "EXPIRED"} for s in res[1]],
    )
