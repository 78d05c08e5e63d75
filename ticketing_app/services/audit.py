"""Reconciliation: compare the database, Redis (the hold store) and the Kafka-fed projection and
report every way they disagree.

The database is read first, in one snapshot, then Redis: every write path changes Redis before
the database (a sale) or the database before Redis (a refund, a cancellation), so reading in
this order sees in-flight work only as "Redis ahead of the database", which the checks below
recognise (a payment still PENDING). Whatever still looks wrong is looked at again after
`settle_s`; only what persists is reported, so a live system is not flagged for work that
finishes a few milliseconds later. Grace periods cover slower in-flight work (an order inside
its payment window, a payment still being retried, an outbox row on its way to Kafka).

Used by `ticketing audit`, by the fault-injection tests and by the benchmarks.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from ticketing_app.db.models import (
    Event,
    Order,
    OrderItem,
    OutboxEvent,
    Payment,
    ProcessedEvent,
    SalesProjection,
    Seat,
)
from ticketing_app.domain.orders import OrderStatus, PaymentStatus
from ticketing_app.holds.store import Snapshot

if TYPE_CHECKING:
    from ticketing_app.runtime import Runtime

PROJECTION_CONSUMER = "sales-projection"

# Discrepancy kinds (stable strings: tests, benchmarks and operators match on them).
SEAT_SOLD_TWICE = "SEAT_SOLD_TWICE"  # two live sales of one seat, or seats.order_id disagrees
SOLD_WITHOUT_ORDER = "SOLD_WITHOUT_ORDER"  # DB seat SOLD, no confirmed order item for it
CONFIRMED_NOT_SOLD = "CONFIRMED_NOT_SOLD"  # confirmed order item, DB seat not sold to it
REDIS_MISSING_SALE = "REDIS_MISSING_SALE"  # DB sold, Redis free/blocked or sold to another
HOLD_ON_SOLD_SEAT = "HOLD_ON_SOLD_SEAT"  # DB sold, Redis has a hold (H) or order lock (O)
REDIS_SOLD_NOT_IN_DB = "REDIS_SOLD_NOT_IN_DB"  # Redis S, DB says not sold (no payment running)
ORDER_STUCK = "ORDER_STUCK"  # CREATED past its payment deadline plus grace
PAYMENT_STUCK = "PAYMENT_STUCK"  # PENDING longer than the payment grace
OUTBOX_UNDELIVERED = "OUTBOX_UNDELIVERED"  # PENDING past grace, or FAILED
OUTBOX_UNPROCESSED = "OUTBOX_UNPROCESSED"  # SENT past grace, never processed by the projection
PROJECTION_MISMATCH = "PROJECTION_MISMATCH"  # projection totals differ from orders/order_items

KINDS = (
    SEAT_SOLD_TWICE, SOLD_WITHOUT_ORDER, CONFIRMED_NOT_SOLD, REDIS_MISSING_SALE,
    HOLD_ON_SOLD_SEAT, REDIS_SOLD_NOT_IN_DB, ORDER_STUCK, PAYMENT_STUCK, OUTBOX_UNDELIVERED,
    OUTBOX_UNPROCESSED, PROJECTION_MISMATCH,
)


@dataclass(frozen=True)
class Discrepancy:
    kind: str
    event_id: int | None
    subject: str  # what is wrong: "seat:12", "order:7", "payment:3", "outbox:41", "event:2"
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "eventId": self.event_id, "subject": self.subject,
                "detail": self.detail}


@dataclass
class AuditReport:
    discrepancies: list[Discrepancy] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # what was looked at, by kind
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    def of_kind(self, kind: str) -> list[Discrepancy]:
        return [d for d in self.discrepancies if d.kind == kind]

    @property
    def kinds(self) -> set[str]:
        return {d.kind for d in self.discrepancies}

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "startedAt": self.started_at.isoformat(),
                "discrepancies": [d.as_dict() for d in self.discrepancies]}

    def summary(self) -> str:
        if self.ok:
            return "audit clean"
        return "; ".join(f"{d.kind} {d.subject}: {d.detail}" for d in self.discrepancies[:20])


@dataclass(frozen=True)
class Grace:
    """How long in-flight work may look unfinished before it counts as stuck."""

    order_s: float = 30.0  # past the payment deadline (the expiry job runs every second)
    payment_s: float = 60.0  # since the payment was created (recovery is bounded at 30 s)
    outbox_s: float = 60.0  # since a row was written (PENDING) or published (SENT)


# ---- reading ----------------------------------------------------------------------------

@dataclass
class _DbView:
    now: datetime
    events: list[int]
    seats: dict[int, Seat]
    orders: dict[int, Order]  # every order that owns a seat, has a live item, or is open
    live_items: dict[int, list[int]]  # seat -> confirmed orders with a non-refunded item
    confirmed_items: list[tuple[int, int, int]]  # (order, seat, price), non-refunded
    pending_payment_orders: set[int]
    payments_pending: list[Payment]
    orders_created: list[Order]
    outbox: list[OutboxEvent]  # PENDING, FAILED and SENT-but-unprocessed rows
    projection: dict[int, SalesProjection]
    checked: dict[str, int]


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


async def _snapshot_isolation(s: AsyncSession, rt: Runtime) -> None:
    """PostgreSQL: every query of the audit sees one snapshot (SQLite's read transaction
    already does)."""
    if rt.db.is_postgres:
        await s.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))


async def _read_db(rt: Runtime, event_id: int | None) -> _DbView:
    def scoped(q: Any, column: Any) -> Any:
        return q if event_id is None else q.where(column == event_id)

    async with rt.db.snapshot_sessions() as s:
        await _snapshot_isolation(s, rt)
        now = datetime.now(UTC)
        events = [int(x) for x in (await s.execute(
            scoped(select(col(Event.id)), col(Event.id)).order_by(col(Event.id)))).scalars()]
        seats = {int(x.id or 0): x for x in (await s.execute(
            scoped(select(Seat), col(Seat.event_id)))).scalars()}
        item_rows = (await s.execute(scoped(
            select(col(OrderItem.order_id), col(OrderItem.seat_id), col(OrderItem.price))
            .join(Order, col(Order.id) == col(OrderItem.order_id))
            .where(col(Order.status) == OrderStatus.CONFIRMED.value,
                   col(OrderItem.refunded).is_(False)), col(Order.event_id)))).all()
        owner_ids = {int(x.order_id) for x in seats.values() if x.order_id is not None}
        order_ids = owner_ids | {int(r[0]) for r in item_rows}
        orders: dict[int, Order] = {}
        ids = sorted(order_ids)
        for i in range(0, len(ids), 500):
            for o in (await s.execute(select(Order).where(col(Order.id).in_(ids[i:i + 500])))
                      ).scalars():
                orders[int(o.id or 0)] = o
        created = list((await s.execute(scoped(
            select(Order).where(col(Order.status) == OrderStatus.CREATED.value),
            col(Order.event_id)))).scalars())
        for o in created:
            orders[int(o.id or 0)] = o
        pending = list((await s.execute(scoped(
            select(Payment).join(Order, col(Order.id) == col(Payment.order_id))
            .where(col(Payment.status) == PaymentStatus.PENDING.value),
            col(Order.event_id)))).scalars())
        for o in (await s.execute(select(Order).where(col(Order.id).in_(
                sorted({int(p.order_id) for p in pending} - set(orders)))))).scalars():
            orders[int(o.id or 0)] = o
        processed = select(col(ProcessedEvent.event_uuid)).where(
            col(ProcessedEvent.consumer) == PROJECTION_CONSUMER)
        outbox_q = select(OutboxEvent).where(
            (col(OutboxEvent.status) != "SENT") | col(OutboxEvent.event_uuid).not_in(processed))
        if event_id is not None:
            outbox_q = outbox_q.where(col(OutboxEvent.partition_key) == str(event_id))
        outbox = list((await s.execute(outbox_q.order_by(col(OutboxEvent.id)))).scalars())
        projection = {int(p.event_id): p for p in (await s.execute(
            scoped(select(SalesProjection), col(SalesProjection.event_id)))).scalars()}
        n_orders = (await s.execute(scoped(select(func.count(col(Order.id))),
                                            col(Order.event_id)))).scalar_one()
        # Leaving the block closes the read transaction without expiring what was read.
    live: dict[int, list[int]] = defaultdict(list)
    for order_id, seat_id, _ in item_rows:
        live[int(seat_id)].append(int(order_id))
    return _DbView(
        now=now, events=events, seats=seats, orders=orders, live_items=dict(live),
        confirmed_items=[(int(o), int(st), int(p)) for o, st, p in item_rows],
        pending_payment_orders={int(p.order_id) for p in pending}, payments_pending=pending,
        orders_created=created, outbox=outbox, projection=projection,
        checked={"events": len(events), "seats": len(seats), "orders": int(n_orders),
                 "confirmedItems": len(item_rows), "pendingPayments": len(pending),
                 "undeliveredOutboxRows": len(outbox)},
    )


async def _read_redis(rt: Runtime, events: list[int]) -> dict[int, Snapshot]:
    """Loaded events only: an event Redis does not hold is rebuilt from the database on its
    next use, so there is nothing in Redis to disagree with."""
    out: dict[int, Snapshot] = {}
    for event_id in events:
        snap = await rt.holds.snapshot(event_id)
        if snap is not None:
            out[event_id] = snap
    return out


async def _name_redis_buyers(rt: Runtime, db: _DbView, redis: dict[int, Snapshot]) -> None:
    """Orders Redis sells seats to that the snapshot did not need (cancelled, refunded): read
    them only to name them in a report; the checks rely on the snapshot alone."""
    known = {o.lock_token for o in db.orders.values()}
    unknown = sorted({st.token for snap in redis.values() for st in snap.states.values()
                      if st.code == "S" and st.token not in known})
    for i in range(0, len(unknown), 500):
        async with rt.db.read_sessions() as s:
            for o in (await s.execute(select(Order).where(
                    col(Order.lock_token).in_(unknown[i:i + 500])))).scalars():
                db.orders.setdefault(int(o.id or 0), o)


# ---- checks -------------------------------------------------------------------------------

def _check_seats(db: _DbView) -> list[Discrepancy]:
    out: list[Discrepancy] = []
    for seat_id, owners in sorted(db.live_items.items()):
        seat = db.seats.get(seat_id)
        ev = seat.event_id if seat else None
        if len(owners) > 1:
            out.append(Discrepancy(SEAT_SOLD_TWICE, ev, f"seat:{seat_id}",
                                   f"confirmed in orders {sorted(owners)}"))
            continue
        if seat is None:
            continue
        owner = owners[0]
        if seat.order_id is not None and seat.order_id != owner:
            out.append(Discrepancy(SEAT_SOLD_TWICE, ev, f"seat:{seat_id}",
                                   f"seats.order_id={seat.order_id} but confirmed in order "
                                   f"{owner}"))
        elif seat.status != "SOLD" or seat.order_id != owner:
            out.append(Discrepancy(CONFIRMED_NOT_SOLD, ev, f"order:{owner}",
                                   f"seat {seat_id} is {seat.status} in the database "
                                   f"(order_id={seat.order_id})"))
    for seat_id, seat in sorted(db.seats.items()):
        if seat.status == "SOLD" and seat_id not in db.live_items:
            o = db.orders.get(int(seat.order_id)) if seat.order_id is not None else None
            if seat.order_id is None:
                why = "sold with no order"
            elif o is None or o.status != OrderStatus.CONFIRMED.value:
                why = f"order {seat.order_id} is {o.status if o else 'missing'}"
            else:
                why = f"order {seat.order_id} has no live item for this seat"
            out.append(Discrepancy(SOLD_WITHOUT_ORDER, seat.event_id, f"seat:{seat_id}", why))
    return out


def _redis_code(snap: Snapshot, seat_id: int) -> tuple[str, str]:
    s = snap.states.get(seat_id)
    return ("A", "") if s is None else (s.code, s.token)


def _check_redis(db: _DbView, redis: dict[int, Snapshot]) -> list[Discrepancy]:
    out: list[Discrepancy] = []
    tokens = {o.lock_token: oid for oid, o in db.orders.items()}
    for seat_id, seat in sorted(db.seats.items()):
        snap = redis.get(seat.event_id)
        if snap is None:
            continue
        code, token = _redis_code(snap, seat_id)
        if seat.status == "SOLD":
            # Redis should agree with the confirmed order item (seats.order_id disagreeing
            # with it is the database's own SEAT_SOLD_TWICE).
            owners = db.live_items.get(seat_id, [])
            owner_id = owners[0] if len(owners) == 1 else seat.order_id
            owner = db.orders.get(int(owner_id)) if owner_id is not None else None
            if code in ("H", "O"):
                out.append(Discrepancy(HOLD_ON_SOLD_SEAT, seat.event_id, f"seat:{seat_id}",
                                       f"sold to order {owner_id} in the database, "
                                       f"{'held' if code == 'H' else 'locked by an order'} "
                                       "in Redis"))
            elif code != "S" or (owner is not None and token != owner.lock_token):
                what = {"A": "free", "B": "blocked"}.get(code, f"sold to order "
                                                              f"{tokens.get(token, '?')}")
                out.append(Discrepancy(REDIS_MISSING_SALE, seat.event_id, f"seat:{seat_id}",
                                       f"sold to order {owner_id} in the database, "
                                       f"{what} in Redis"))
        elif code == "S":
            oid = tokens.get(token)
            if oid in db.pending_payment_orders:
                continue  # the payment job sells in Redis first, then in the database
            who = f"order {oid}" if oid is not None else f"lock token {token[:12]}"
            out.append(Discrepancy(REDIS_SOLD_NOT_IN_DB, seat.event_id, f"seat:{seat_id}",
                                   f"sold in Redis ({who}), {seat.status} in the database"))
    return out


def _check_stuck(db: _DbView, grace: Grace) -> list[Discrepancy]:
    out: list[Discrepancy] = []
    for o in db.orders_created:
        deadline = _aware(o.payment_deadline)
        if db.now - deadline > timedelta(seconds=grace.order_s):
            late = (db.now - deadline).total_seconds()
            out.append(Discrepancy(ORDER_STUCK, o.event_id, f"order:{o.id}",
                                   f"CREATED {late:.0f}s past its payment deadline"
                                   + (" (payment still pending)"
                                      if o.id in db.pending_payment_orders else "")))
    for p in db.payments_pending:
        age = (db.now - _aware(p.created_at)).total_seconds()
        if age > grace.payment_s:
            order = db.orders.get(p.order_id)
            out.append(Discrepancy(PAYMENT_STUCK, order.event_id if order else None,
                                   f"payment:{p.id}",
                                   f"PENDING for {age:.0f}s (order {p.order_id})"))
    return out


def _event_of(row: OutboxEvent) -> int | None:
    return int(row.partition_key) if row.partition_key.isdigit() else None


def _check_outbox(db: _DbView, grace: Grace) -> list[Discrepancy]:
    out: list[Discrepancy] = []
    limit = timedelta(seconds=grace.outbox_s)
    for row in db.outbox:
        subject = f"outbox:{row.id}"
        ev = _event_of(row)
        if row.status == "PENDING" and db.now - _aware(row.created_at) > limit:
            age = (db.now - _aware(row.created_at)).total_seconds()
            out.append(Discrepancy(OUTBOX_UNDELIVERED, ev, subject,
                                   f"{row.event_type} PENDING for {age:.0f}s "
                                   f"({row.attempts} attempts)"))
        elif row.status == "FAILED":
            out.append(Discrepancy(OUTBOX_UNDELIVERED, ev, subject,
                                   f"{row.event_type} FAILED: {row.last_error}"))
        elif row.status == "SENT":
            sent = _aware(row.sent_at or row.created_at)
            age = (db.now - sent).total_seconds()
            if age > grace.outbox_s:
                out.append(Discrepancy(OUTBOX_UNPROCESSED, ev, subject,
                                       f"{row.event_type} sent {age:.0f}s ago, never processed "
                                       f"by {PROJECTION_CONSUMER}"))
    return out


def _check_projection(db: _DbView) -> list[Discrepancy]:
    """Totals from orders/order_items against the projection, for events whose every outbox row
    the projection has processed (otherwise it is still catching up; stale rows are reported
    by the outbox check)."""
    confirmed: dict[int, set[int]] = defaultdict(set)
    seats: dict[int, int] = defaultdict(int)
    revenue: dict[int, int] = defaultdict(int)
    order_event = {oid: o.event_id for oid, o in db.orders.items()}
    for order_id, _, price in db.confirmed_items:
        ev = order_event.get(order_id)
        if ev is None:
            continue
        confirmed[ev].add(order_id)
        seats[ev] += 1
        revenue[ev] += price
    # Fully confirmed orders with every item refunded are REFUNDED, so a CONFIRMED order always
    # has at least one live item: the set above counts every confirmed order.
    catching_up = {_event_of(r) for r in db.outbox}
    out: list[Discrepancy] = []
    for ev in db.events:
        if ev in catching_up:
            continue
        p = db.projection.get(ev)
        got = (p.orders_confirmed, p.seats_sold, p.revenue) if p else (0, 0, 0)
        want = (len(confirmed[ev]), seats[ev], revenue[ev])
        if got != want:
            out.append(Discrepancy(
                PROJECTION_MISMATCH, ev, f"event:{ev}",
                f"projection confirmed/seats/revenue {got[0]}/{got[1]}/{got[2]}, "
                f"database {want[0]}/{want[1]}/{want[2]}"))
    return out


async def _audit_once(rt: Runtime, event_id: int | None, grace: Grace
                      ) -> tuple[list[Discrepancy], dict[str, int]]:
    db = await _read_db(rt, event_id)
    redis = await _read_redis(rt, db.events)
    await _name_redis_buyers(rt, db, redis)
    found = [*_check_seats(db), *_check_redis(db, redis), *_check_stuck(db, grace),
             *_check_outbox(db, grace), *_check_projection(db)]
    checked = {**db.checked, "redisEvents": len(redis)}
    return found, checked


async def audit(
    rt: Runtime, event_id: int | None = None, *, order_grace_s: float = 30.0,
    payment_grace_s: float = 60.0, outbox_grace_s: float = 60.0, settle_s: float = 1.0,
) -> AuditReport:
    """Every discrepancy between Redis, the database and the projection, for one event or all.

    Grace periods: an order may stay CREATED `order_grace_s` past its payment deadline (the
    expiry job runs every second), a payment PENDING `payment_grace_s` after it was created
    (recovery after a worker crash is bounded at 30 s), an outbox row unpublished or unprocessed
    `outbox_grace_s`. A discrepancy is reported only if it is still there `settle_s` later
    (0 disables the second look), so work in flight at the first look is not reported.
    """
    grace = Grace(order_s=order_grace_s, payment_s=payment_grace_s, outbox_s=outbox_grace_s)
    report = AuditReport()
    found, checked = await _audit_once(rt, event_id, grace)
    if found and settle_s > 0:
        await asyncio.sleep(settle_s)
        again, checked = await _audit_once(rt, event_id, grace)
        first = {(d.kind, d.subject) for d in found}
        found = [d for d in again if (d.kind, d.subject) in first]
    report.discrepancies = sorted(found, key=lambda d: (d.event_id or 0, d.kind, d.subject))
    report.checked = checked
    return report
