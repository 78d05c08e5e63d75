"""Two services on fakes: what each decides from what its collaborators answer, without Redis
or a database. Their integration tests (test_holds_api, test_refusal_from_copy,
test_abuse_limits, test_best_available) prove the same against real services; these pin the
decisions one by one, and show that a constructor is all a service needs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from ticketing_app.domain import errors
from ticketing_app.domain.seat_layout import Layout, SeatInfo
from ticketing_app.holds.answers import BestResult, ClaimLimits, HoldResult
from ticketing_app.holds.mirror import SeatCopy
from ticketing_app.services.best_available import BestAvailableService
from ticketing_app.services.reservations import ReservationService

EVENT = 7


def now_ms() -> int:
    """Read when a test runs (not when the module is imported: the copy's holds expire)."""
    return int(time.time() * 1000)


class FakeHolds:
    """The hold store's answers, scripted; records every call."""

    def __init__(self, answer: Any = None):
        self.answer = answer
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    async def _reply(self, name: str, *args: Any, **kw: Any) -> Any:
        self.calls.append((name, args, kw))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    async def hold(self, *args: Any, **kw: Any) -> Any:
        return await self._reply("hold", *args, **kw)

    async def best_available(self, *args: Any, **kw: Any) -> Any:
        return await self._reply("best_available", *args, **kw)


class FakeCatalog:
    def __init__(self, published: bool = True, layout: Layout | None = None):
        self.published = published
        self._layout = layout

    def tag_for(self, event_id: int, buyer: str) -> str:
        return f"tag-{buyer}"

    async def unpublished_as_not_found(self, event_id: int, exc: Exception) -> Exception:
        if self.published or isinstance(exc, errors.EventNotFound):
            return exc
        return errors.EventNotFound(f"Event {event_id} not found.")

    async def public_event(self, event_id: int) -> Any:
        if not self.published:
            raise errors.EventNotFound(f"Event {event_id} not found.")
        return SimpleNamespace(hold_default_s=30, hold_min_s=5, hold_max_s=120)

    async def layout(self, event_id: int) -> Layout:
        assert self._layout is not None
        return self._layout


class FakeWaiting:
    def admission_epoch(self, buyer: str, event_id: int, token: str | None) -> str:
        return "epoch-1" if token == "good-token" else ""


class FakeMirror:
    def __init__(self, copy: SeatCopy | None = None):
        self.copy = copy

    def want(self, event_id: int) -> SeatCopy | None:
        return self.copy


SETTINGS = SimpleNamespace(rate_limit_holds_per_minute=600, rate_limit_ip_per_minute=20000)


def reservations(holds: FakeHolds, mirror: FakeMirror | None = None,
                 catalog: FakeCatalog | None = None) -> ReservationService:
    return ReservationService(holds, catalog or FakeCatalog(), FakeWaiting(),  # type: ignore[arg-type]
                              mirror or FakeMirror(), SETTINGS)  # type: ignore[arg-type]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ---- ReservationService -------------------------------------------------------------------
def test_a_hold_asks_the_store_with_the_buyers_tag_admission_and_limits() -> None:
    holds = FakeHolds(HoldResult(now_ms() + 30_000, version=4, newly_held=2, hold_seconds=30))
    h = run(reservations(holds).hold("alice", EVENT, [3, 2, 3], 30, admission="good-token",
                                     client="10.0.0.1"))
    assert (h.seat_ids, h.hold_seconds, h.version) == ([3, 2], 30, 4)
    [(name, args, kw)] = holds.calls
    assert name == "hold" and args == (EVENT, "alice", "tag-alice", [3, 2], 30)
    assert kw == {"admission_epoch": "epoch-1",
                  "limits": ClaimLimits(600, "10.0.0.1", 20000), "web": False}


def test_a_seat_the_copy_shows_held_by_someone_else_is_refused_without_the_store() -> None:
    copy = SeatCopy(EVENT, version=9, taken={5: ("H", "tag-bob", now_ms() + 60_000)})
    holds = FakeHolds(HoldResult(0, 0, 0))
    with pytest.raises(errors.ReservationConflict) as refused:
        run(reservations(holds, FakeMirror(copy)).hold("alice", EVENT, [5], None))
    assert refused.value.details == [{"seatId": 5, "status": "HELD"}]
    assert holds.calls == []


def test_the_buyers_own_hold_and_a_free_seat_go_to_the_store() -> None:
    copy = SeatCopy(EVENT, version=9, taken={5: ("H", "tag-alice", now_ms() + 60_000)})
    holds = FakeHolds(HoldResult(now_ms() + 30_000, 10, 1, 30))
    svc = reservations(holds, FakeMirror(copy))
    run(svc.hold("alice", EVENT, [5], None))
    run(svc.hold("alice", EVENT, [6], None))
    assert [c[1][3] for c in holds.calls] == [[5], [6]]


def test_a_rate_limit_verdict_is_remembered_and_refused_from_memory() -> None:
    holds = FakeHolds(errors.RateLimited(retry_after=30, scope="holder", message="slow down"))
    svc = reservations(holds)
    for _ in range(3):
        with pytest.raises(errors.RateLimited):
            run(svc.hold("alice", EVENT, [1], None))
    assert len(holds.calls) == 1  # the second and third never reached the store
    holds.answer = HoldResult(now_ms() + 30_000, 1, 1, 30)
    run(svc.hold("bob", EVENT, [1], None))  # another buyer is not screened


def test_a_refusal_for_an_unpublished_event_is_its_404() -> None:
    holds = FakeHolds(errors.SalesClosed())
    with pytest.raises(errors.EventNotFound):
        run(reservations(holds, catalog=FakeCatalog(published=False))
            .hold("alice", EVENT, [1], None))


def test_a_closed_room_asks_for_an_admission_token() -> None:
    holds = FakeHolds(errors.Unauthenticated("room on"))
    with pytest.raises(errors.Unauthenticated) as refused:
        run(reservations(holds).hold("alice", EVENT, [1], None))
    assert refused.value.details == [{"field": "X-Admission-Token", "message": "missing"}]


@pytest.mark.parametrize("seats", [[], list(range(1, 52))])
def test_seat_lists_are_checked_before_anything_is_asked(seats: Sequence[int]) -> None:
    holds = FakeHolds()
    with pytest.raises(errors.ValidationFailed):
        run(reservations(holds).hold("alice", EVENT, seats, None))
    assert holds.calls == []


# ---- BestAvailableService -----------------------------------------------------------------
def _layout() -> Layout:
    """Row 1: seats 1-3 side by side, an aisle, seat 4 (tier Gold); row 2: 5-6 (Standard)."""
    def seat(sid: int, r: int, c: int, tier: int, name: str) -> SeatInfo:
        return SeatInfo(sid, "Main", r, c, 100, tier, name, "#000000")
    return Layout(EVENT, rows=2, cols=5, currency="KRW", seats=(
        seat(1, 1, 1, 10, "Gold"), seat(2, 1, 2, 10, "Gold"), seat(3, 1, 3, 10, "Gold"),
        seat(4, 1, 5, 10, "Gold"), seat(5, 2, 1, 11, "Standard"), seat(6, 2, 2, 11, "Standard")))


def best(holds: FakeHolds) -> BestAvailableService:
    catalog = FakeCatalog(layout=_layout())
    return BestAvailableService(holds, catalog, reservations(FakeHolds(), catalog=catalog),  # type: ignore[arg-type]
                                FakeWaiting())  # type: ignore[arg-type]


def test_more_seats_than_any_row_of_the_tier_has_together_is_refused_before_redis() -> None:
    holds = FakeHolds()
    with pytest.raises(errors.ValidationFailed, match="at most 2"):
        run(best(holds).hold_best("alice", EVENT, 3, "Standard", None))
    assert holds.calls == []


def test_best_available_holds_the_block_the_script_chose() -> None:
    holds = FakeHolds(BestResult([2, 3], now_ms() + 30_000, 8))
    held = run(best(holds).hold_best("alice", EVENT, 2, "gold", 500, client="10.0.0.2"))
    assert [s.label for s in held.seats] == [s.label for s in _layout().seats[1:3]]
    assert (held.tier, held.hold_seconds, held.version) == ("Gold", 120, 8)  # clamped
    [(name, args, kw)] = holds.calls
    assert name == "best_available" and args == (EVENT, "alice", "tag-alice", "10", 2, 500)
    assert kw["limits"] == ClaimLimits(600, "10.0.0.2", 20000)


def test_no_block_left_is_a_conflict_that_says_what_is_left() -> None:
    holds = FakeHolds((1, 3))
    with pytest.raises(errors.ReservationConflict) as refused:
        run(best(holds).hold_best("alice", EVENT, 2, None, None))
    assert refused.value.details[0]["largestBlock"] == 1
    assert refused.value.details[0]["freeSeats"] == 3
