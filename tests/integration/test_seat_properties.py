"""Property-based test of the seat state machine (hypothesis `RuleBasedStateMachine`).

Random interleavings of hold, extend, release, order (lock for an order), start a payment,
the payment's success (confirm) or failure (compensation), the buyer's cancel, a refund and
the expiry of one hold or order lock run through the real services and Lua scripts on real
Valkey and SQLite/PostgreSQL, next to a plain Python model of what each step must do. After
every step the Redis snapshot, the script's own indexes and the database must equal the model.

Expiry without sleeping: `expire` makes one live hold or order lock lapse now, by rewriting
that seat's expiry (and its sweeper index) through a small Lua script that uses the real
scripts' own parser (`_lib.lua`). Nothing in production reads a test clock, so the scripts
under test are exactly the shipped ones, and the database and Python keep using real time
(order deadlines stay consistent). One seat lapsing alone is a reachable state: a partial
extend leaves the seats of one hold with different expiries. Half the time the real sweeper
(`sweep.lua`) then releases it; otherwise the lapsed entry stays for the scripts to treat as
free (the lazy path).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from sqlmodel import col

from tests.conftest import BACKENDS, drop_pg_database, make_database_url
from tests.integration.inprocess import stack_settings
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.db.models import Order, Payment, Seat
from ticketing_app.domain import errors
from ticketing_app.domain.orders import PaymentStatus
from ticketing_app.holds.keys import EventKeys
from ticketing_app.holds.scripts import LUA_DIR
from ticketing_app.stack import Stack

pytestmark = pytest.mark.integration

T = TypeVar("T")
BUYERS = ("alice", "bob", "carol")
SEATS = 5
LIMIT = 3  # seats per buyer (holds + order locks + purchases)
HOLD_S = 120  # far longer than an example runs: only `expire` makes a claim lapse
EXAMPLES = int(os.environ.get("SEAT_PROPERTY_EXAMPLES", "25"))
STEPS = int(os.environ.get("SEAT_PROPERTY_STEPS", "30"))

# Test support, not shipped: age one seat's live hold (H) or order lock (O) so it lapses now.
AGE_LUA = """
local seat = ARGV[1]
local now = now_ms()
local s = state_of(seat, now)
if not ((s.kind == 'H' or s.kind == 'O') and s.live) then return 0 end
local past = now - 1
if s.kind == 'H' then
  redis.call('HSET', K_ST, seat, 'H|' .. s.buyer .. '|' .. past .. '|' .. s.start .. '|' .. s.tag)
else
  redis.call('HSET', K_ST, seat, 'O|' .. s.token .. '|' .. s.buyer .. '|' .. past .. '|' .. s.tag)
end
redis.call('ZADD', K_EXP, past, seat)
return 1
"""


@pytest.fixture(scope="module", params=BACKENDS)
def services(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    url = make_database_url(str(request.param), tmp_path_factory.mktemp("props"))
    st_ = Stack(database_url=url).start_services(kafka=False)
    try:
        st_.migrate()
        yield st_
    finally:
        st_.stop()
        if request.param == "postgres":
            drop_pg_database(url)


# ---- the model -------------------------------------------------------------------------
Claim = tuple[str, str]  # ('A', ''), ('H', buyer), ('O', order id), ('S', order id)
FREE: Claim = ("A", "")


@dataclass
class MOrder:
    id: int
    buyer: str
    seats: list[int]
    token: str
    status: str = "CREATED"
    payment_id: int | None = None
    payment: str = ""  # '' (none yet) or a PaymentStatus value
    refunded: set[int] = field(default_factory=set)


PATHS: Counter[str] = Counter()  # payment outcomes reached, over the whole run


class SeatMachine(RuleBasedStateMachine):
    """One example = one fresh event of SEATS seats in a row; the model is `self.seats`."""

    loop: asyncio.AbstractEventLoop
    rt: Runtime

    def __init__(self) -> None:
        super().__init__()
        self.event_id = self.run(self._new_event())
        self.ids = self.run(self._seat_ids())
        self.seats: dict[int, Claim] = dict.fromkeys(self.ids, FREE)
        self.orders: dict[int, MOrder] = {}
        self.version = 0
        self.age = self.rt.redis.register_script(
            (LUA_DIR / "_lib.lua").read_text() + "\n" + AGE_LUA)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    async def _new_event(self) -> int:
        from ticketing_app.domain.event_rules import TierSpec
        from ticketing_app.domain.layouts import GridSpec

        admin = self.rt.admin
        venue = await admin.create_venue("prop", f"Hall {uuid.uuid4().hex[:6]}",
                                         [GridSpec("Main", 1, SEATS)])
        ev = await admin.create_event(
            "prop", title=f"Prop {uuid.uuid4().hex[:6]}",
            starts_at=datetime.now(UTC) + timedelta(days=7), venue_id=int(venue.id or 0),
            tiers=[TierSpec("Standard", 50000)], status="ON_SALE", hold_default_s=HOLD_S,
            hold_max_s=HOLD_S, max_seats_per_buyer=LIMIT, orphan_rule=False)
        return int(ev.id or 0)

    async def _seat_ids(self) -> list[int]:
        layout = await self.rt.catalog.layout(self.event_id, fresh=True)
        return sorted(s.id for s in layout.seats)

    def call(self, coro: Coroutine[Any, Any, T]) -> T | errors.DomainError:
        """Runs a service call; a refusal is returned (to compare), anything else raises."""
        try:
            return self.run(coro)
        except errors.DomainError as exc:
            return exc

    # ---- model helpers ------------------------------------------------------------------
    def kind(self, seat: int) -> str:
        return self.seats[seat][0]

    def owner(self, seat: int) -> str:
        """The buyer a seat counts for (its holder, or its order's buyer), '' when free."""
        k, who = self.seats[seat]
        if k == "H":
            return who
        if k in ("O", "S"):
            return self.orders[int(who)].buyer
        return ""

    def owned(self, buyer: str) -> int:
        return sum(1 for s in self.ids if self.owner(s) == buyer)

    def expect(self, outcome: object, expected: type[errors.DomainError] | None) -> None:
        if expected is None:
            assert not isinstance(outcome, errors.DomainError), repr(outcome)
        else:
            assert type(outcome) is expected, (outcome, expected)

    def release_order_locks(self, o: MOrder) -> None:
        for s in o.seats:
            if self.seats[s] == ("O", str(o.id)):
                self.seats[s] = FREE

    def pick(self, data: st.DataObject, buyer: str, max_size: int) -> list[int]:
        """Seats for a step: often among the buyer's own claims (so orders and payments get
        somewhere), otherwise any seats (so refusals are exercised too)."""
        own = [s for s in self.ids if self.seats[s] == ("H", buyer)]
        pool = own if own and data.draw(st.booleans(), label="own seats") else self.ids
        return data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=max_size,
                                  unique=True), label="seats")

    # ---- rules --------------------------------------------------------------------------
    @rule(buyer=st.sampled_from(BUYERS),
          picks=st.lists(st.integers(0, SEATS - 1), min_size=1, max_size=3, unique=True))
    def hold(self, buyer: str, picks: list[int]) -> None:
        self.hold_seats(buyer, [self.ids[i] for i in picks])

    def hold_seats(self, buyer: str, seats: list[int]) -> None:
        fresh = [s for s in seats if self.kind(s) == "A"]
        sold = [s for s in seats if self.kind(s) == "S"]
        conflict = [s for s in seats if self.kind(s) == "O"
                    or (self.kind(s) == "H" and self.owner(s) != buyer)]
        expected: type[errors.DomainError] | None = None
        if sold:
            expected = errors.SeatSold
        elif conflict:
            expected = errors.ReservationConflict
        elif self.owned(buyer) + len(fresh) > LIMIT:
            expected = errors.LimitExceeded
        out = self.call(self.rt.reservations.hold(buyer, self.event_id, seats, HOLD_S))
        self.expect(out, expected)
        if expected is None:
            for s in fresh:
                self.seats[s] = ("H", buyer)

    @rule(buyer=st.sampled_from(BUYERS), data=st.data(), seconds=st.integers(-5, 200))
    def extend(self, buyer: str, data: st.DataObject, seconds: int) -> None:
        seats = self.pick(data, buyer, 2)
        held = [s for s in seats if self.kind(s) == "H"]
        expected: type[errors.DomainError] | None = None
        if any(self.owner(s) != buyer for s in held):
            expected = errors.Forbidden
        elif any(self.kind(s) in ("O", "S") for s in seats):
            expected = errors.SeatInOrder
        elif len(held) < len(seats):
            expected = errors.ReservationExpired
        out = self.call(self.rt.reservations.extend(buyer, self.event_id, seats, seconds))
        self.expect(out, expected)

    @rule(buyer=st.sampled_from(BUYERS), data=st.data())
    def release(self, buyer: str, data: st.DataObject) -> None:
        seats = self.pick(data, buyer, 3)
        expected: type[errors.DomainError] | None = None
        if any(self.kind(s) == "H" and self.owner(s) != buyer for s in seats):
            expected = errors.Forbidden
        elif any(self.kind(s) in ("O", "S") for s in seats):
            expected = errors.SeatInOrder
        elif any(self.kind(s) == "A" for s in seats):
            expected = errors.ReservationExpired
        out = self.call(self.rt.reservations.release(buyer, self.event_id, seats))
        self.expect(out, expected)
        if expected is None:
            for s in seats:
                self.seats[s] = FREE

    @rule(buyer=st.sampled_from(BUYERS), data=st.data())
    def order(self, buyer: str, data: st.DataObject) -> None:
        self.order_seats(buyer, self.pick(data, buyer, 3))

    def order_seats(self, buyer: str, seats: list[int]) -> None:
        expected: type[errors.DomainError] | None = None
        if any(self.kind(s) == "S" for s in seats):
            expected = errors.SeatSold
        elif any(self.kind(s) in ("H", "O") and (self.kind(s) == "O" or self.owner(s) != buyer)
                 for s in seats):
            # In another of this buyer's orders, or someone else's hold or order.
            expected = errors.ReservationConflict
        elif any(self.kind(s) != "H" for s in seats):
            expected = errors.ReservationExpired  # free: no (or no longer a) hold of this buyer
        out = self.call(self.rt.orders.create(buyer, uuid.uuid4().hex, self.event_id, seats))
        self.expect(out, expected)
        if expected is None:
            assert isinstance(out, tuple)
            code, body = out
            assert code == 201 and body["status"] == "CREATED", out
            oid = int(body["orderId"])
            token = self.run(self.rt.orders.get(oid)).order.lock_token
            self.orders[oid] = MOrder(oid, buyer, list(seats), token)
            for s in seats:
                self.seats[s] = ("O", str(oid))

    @rule(buyer=st.sampled_from(BUYERS), data=st.data())
    def checkout(self, buyer: str, data: st.DataObject) -> None:
        """The happy path in one step (hold free seats, order them, start paying), so that
        payments, expiries during payment and late payments are reached often."""
        free = [s for s in self.ids if self.kind(s) == "A"]
        room = LIMIT - self.owned(buyer)
        if not free or room <= 0:
            return
        seats = data.draw(st.lists(st.sampled_from(free), min_size=1,
                                   max_size=min(2, room), unique=True), label="seats")
        self.expect(self.call(self.rt.reservations.hold(buyer, self.event_id, seats, HOLD_S)),
                    None)
        for s in seats:
            self.seats[s] = ("H", buyer)
        self.order_seats(buyer, seats)
        self.start_payment_of(self.orders[max(self.orders)])

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data())
    def start_payment(self, data: st.DataObject) -> None:
        self.start_payment_of(
            self.orders[data.draw(st.sampled_from(sorted(self.orders)), label="order")])

    def start_payment_of(self, o: MOrder) -> None:
        expected: type[errors.DomainError] | None = None
        if o.status != "CREATED" and not o.payment:
            expected = errors.Conflict
        out = self.call(self.rt.payments.start(o.buyer, o.id))
        self.expect(out, expected)
        if expected is None:
            assert isinstance(out, tuple)
            payment, needs_job = out
            if o.payment_id is None:
                o.payment_id, o.payment = int(payment.id or 0), PaymentStatus.PENDING.value
            assert payment.id == o.payment_id and payment.status == o.payment
            assert needs_job == (o.payment == PaymentStatus.PENDING.value)

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data(), intruder=st.sampled_from(BUYERS))
    def someone_else_pays_or_cancels(self, data: st.DataObject, intruder: str) -> None:
        """Orders are read, paid and cancelled by their buyer only."""
        o = self.orders[data.draw(st.sampled_from(sorted(self.orders)), label="order")]
        if intruder == o.buyer:
            return
        self.expect(self.call(self.rt.payments.start(intruder, o.id)), errors.Forbidden)
        self.expect(self.call(self.rt.orders.cancel(o.id, intruder, "intruder")),
                    errors.Forbidden)

    def pending(self) -> list[int]:
        return sorted(o.id for o in self.orders.values()
                      if o.payment == PaymentStatus.PENDING.value)

    @precondition(lambda self: bool(self.pending()))
    @rule(data=st.data())
    def payment_succeeds(self, data: st.DataObject) -> None:
        self.succeed(self.orders[data.draw(st.sampled_from(self.pending()), label="order")])

    def succeed(self, o: MOrder) -> None:
        mine = ("O", str(o.id))
        regained = [s for s in o.seats if self.seats[s] == FREE]
        taken = [s for s in o.seats if self.seats[s] not in (mine, FREE)]
        ok = not taken and self.owned(o.buyer) + len(regained) <= LIMIT
        assert o.payment_id is not None
        status = self.run(self.rt.orders.apply_payment_success(o.payment_id))
        late = any(self.seats[s] != mine for s in o.seats)  # some seat's lock lapsed
        PATHS[("late" if late else "on time") + (" confirmed" if ok else " refunded")] += 1
        if ok:
            assert status == PaymentStatus.AUTHORIZED.value, (status, taken, regained)
            o.status, o.payment = "CONFIRMED", status
            for s in o.seats:
                self.seats[s] = ("S", str(o.id))
        else:  # the late-payment policy: the seats are gone (or over the limit): refund
            assert status == PaymentStatus.REFUNDED.value, (status, taken, regained)
            o.status, o.payment = "CANCELLED", status
            self.release_order_locks(o)
        # A repeated job changes nothing.
        assert self.run(self.rt.orders.apply_payment_success(o.payment_id)) == status

    @rule(buyer=st.sampled_from(BUYERS), grabber=st.sampled_from(BUYERS), data=st.data(),
          sweep=st.booleans())
    def lock_lapses_during_payment(self, buyer: str, grabber: str, data: st.DataObject,
                                   sweep: bool) -> None:
        """The fencing case in one step: a payment runs past its order's seat lock, someone
        (perhaps the buyer) may take a freed seat meanwhile, then the payment succeeds late."""
        if not self.pending():
            self.checkout(buyer, data)
            if not self.pending():
                return
        o = self.orders[data.draw(st.sampled_from(self.pending()), label="order")]
        locked = [s for s in o.seats if self.seats[s] == ("O", str(o.id))]
        if locked:
            lapse = data.draw(st.lists(st.sampled_from(locked), min_size=1, unique=True),
                              label="lapse")
            for seat in lapse:
                self.expire_seat(seat, sweep)
            if data.draw(st.booleans(), label="someone takes a freed seat"):
                self.hold_seats(grabber, [data.draw(st.sampled_from(lapse), label="grab")])
        self.succeed(o)

    @precondition(lambda self: bool(self.pending()))
    @rule(data=st.data(), twice=st.booleans())
    def payment_fails(self, data: st.DataObject, twice: bool) -> None:
        o = self.orders[data.draw(st.sampled_from(self.pending()), label="order")]
        assert o.payment_id is not None
        for _ in range(2 if twice else 1):  # compensation run twice: the same end state
            status = self.run(self.rt.orders.apply_payment_failure(
                o.payment_id, PaymentStatus.FAILED, "declined"))
            assert status == PaymentStatus.FAILED.value
        o.status, o.payment = "CANCELLED", PaymentStatus.FAILED.value
        self.release_order_locks(o)

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data())
    def buyer_cancels(self, data: st.DataObject) -> None:
        o = self.orders[data.draw(st.sampled_from(sorted(self.orders)), label="order")]
        expected: type[errors.DomainError] | None = None
        if o.status in ("CONFIRMED", "REFUNDED"):
            expected = errors.Conflict
        elif o.payment == PaymentStatus.PENDING.value:
            expected = errors.PaymentInProgress
        out = self.call(self.rt.orders.cancel(o.id, o.buyer, "cancelled by buyer"))
        self.expect(out, expected)
        if expected is None:
            o.status = "CANCELLED"
            self.release_order_locks(o)

    def confirmed(self) -> list[int]:
        return sorted(o.id for o in self.orders.values() if o.status == "CONFIRMED")

    @precondition(lambda self: bool(self.confirmed()))
    @rule(data=st.data(), partial=st.booleans())
    def refund(self, data: st.DataObject, partial: bool) -> None:
        o = self.orders[data.draw(st.sampled_from(self.confirmed()), label="order")]
        left = [s for s in o.seats if s not in o.refunded]
        chosen = left[:1] if partial else left
        self.run(self.rt.orders.refund(o.id, chosen if partial else None))
        o.refunded.update(chosen)
        for s in chosen:
            self.seats[s] = FREE
        if len(o.refunded) == len(o.seats):
            o.status, o.payment = "REFUNDED", PaymentStatus.REFUNDED.value

    def claimed(self) -> list[int]:
        return [s for s in self.ids if self.kind(s) in ("H", "O")]

    @precondition(lambda self: bool(self.claimed()))
    @rule(data=st.data(), sweep=st.booleans())
    def expire(self, data: st.DataObject, sweep: bool) -> None:
        self.expire_seat(data.draw(st.sampled_from(self.claimed()), label="seat"), sweep)

    def expire_seat(self, seat: int, sweep: bool) -> None:
        keys = EventKeys(self.event_id).script_keys()
        assert self.run(self.age(keys=keys, args=[seat])) == 1
        self.seats[seat] = FREE  # an order whose lock lapsed stays CREATED: a late payment
        if sweep:  # the real sweeper releases every lapsed entry, this one included
            snap = self.run(self.rt.holds.snapshot(self.event_id))
            assert snap is not None
            lapsed = [s for s, x in snap.states.items()
                      if x.code in ("H", "O") and x.expires_at_ms <= snap.now_ms]
            assert seat in lapsed
            released, _ = self.run(self.rt.holds.sweep(self.event_id))
            assert released == len(lapsed)

    # ---- invariants ---------------------------------------------------------------------
    @invariant()
    def redis_equals_model(self) -> None:
        snap = self.run(self.rt.holds.snapshot(self.event_id))
        assert snap is not None
        assert snap.version >= self.version, "the seat-map version never goes back"
        self.version = snap.version
        tokens = {o.token: o.id for o in self.orders.values()}
        for s in self.ids:
            want = self.seats[s]
            code = snap.public_code(s)
            got = snap.states.get(s)
            if want == FREE:
                assert code == "A", (s, got)
            elif want[0] == "H":
                assert got is not None and got.code == "H" and got.buyer == want[1], (s, got)
                assert code == "H"
            else:  # O or S: the lock or sale carries its order's token (one owner per seat)
                assert got is not None and got.code == want[0], (s, want, got)
                assert tokens.get(got.token) == int(want[1]), (s, want, got)
                assert code == ("H" if want[0] == "O" else "S")
        # The scripts' own indexes agree with the states (lapsed entries included).
        raw_own = self.run(self.rt.redis.hgetall(f"{EventKeys(self.event_id).base}:own"))
        own = {k.decode(): int(v) for k, v in raw_own.items()}
        counted: dict[str, int] = {}
        for state in snap.states.values():
            if state.code in ("H", "O", "S"):
                counted[state.buyer] = counted.get(state.buyer, 0) + 1
        assert own == counted
        for b in BUYERS:
            mine = set(self.run(self.rt.holds.my_seats(self.event_id, b)))
            assert mine == {s for s, x in snap.states.items()
                            if x.code in ("H", "O") and x.buyer == b}
            assert self.owned(b) <= LIMIT
        indexed = self.run(self.rt.redis.zrange(f"{EventKeys(self.event_id).base}:exp", 0, -1))
        assert {int(x) for x in indexed} == {s for s, x in snap.states.items()
                                             if x.code in ("H", "O")}

    @invariant()
    def database_equals_model(self) -> None:
        async def read() -> tuple[dict[int, tuple[str, int | None]], dict[int, str],
                                  dict[int, str]]:
            async with self.rt.db.read_sessions() as s:
                seats = {r.id: (r.status, r.order_id) for r in (await s.execute(
                    select(Seat).where(col(Seat.event_id) == self.event_id))).scalars()}
                orders = {int(o.id or 0): o.status for o in (await s.execute(
                    select(Order).where(col(Order.event_id) == self.event_id))).scalars()}
                pays = {int(p.order_id): p.status for p in (await s.execute(
                    select(Payment).where(col(Payment.order_id).in_(list(orders) or [0]))
                )).scalars()}
            return seats, orders, pays

        seats, orders, pays = self.run(read())
        for s in self.ids:
            k, who = self.seats[s]
            want = ("SOLD", int(who)) if k == "S" else ("AVAILABLE", None)
            assert seats[s] == want, (s, seats[s], self.seats[s])
        assert orders == {o.id: o.status for o in self.orders.values()}
        assert pays == {o.id: o.payment for o in self.orders.values() if o.payment}


def test_seat_state_machine_matches_model(services: Stack) -> None:
    PATHS.clear()
    loop = asyncio.new_event_loop()
    rt = loop.run_until_complete(create_runtime(stack_settings(
        services.env(), app_env="test", order_payment_window_s=600, db_pool_size=3)))
    try:
        SeatMachine.loop, SeatMachine.rt = loop, rt
        run_state_machine_as_test(SeatMachine, settings=settings(
            max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    finally:
        loop.run_until_complete(rt.close())
        loop.close()
    # The run reached payments that confirm and payments that ran past their seat lock.
    assert PATHS["on time confirmed"] + PATHS["late confirmed"] > 0, PATHS
    assert PATHS["late confirmed"] + PATHS["late refunded"] > 0, PATHS
