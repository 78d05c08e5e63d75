"""The reconciliation's checks (`services/audit.py`): pure comparisons of what the audit read
from the database (one snapshot) and from Redis, and the kinds of discrepancy they report."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ticketing_app.db.models import Order, OutboxEvent, Payment, SalesProjection, Seat
from ticketing_app.domain.orders import OrderStatus
from ticketing_app.holds.answers import Snapshot

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



@dataclass(frozen=True)
class Grace:
    """How long in-flight work may look unfinished before it counts as stuck."""

    order_s: float = 30.0  # past the payment deadline (the expiry job runs every second)
    payment_s: float = 60.0  # since the payment was created (recovery is bounded at 30 s)
    outbox_s: float = 60.0  # since a row was written (PENDING) or published (SENT)




@dataclass
class DbView:
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


def aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)



def check_seats(db: DbView) -> list[Discrepancy]:
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


def check_redis(db: DbView, redis: dict[int, Snapshot]) -> list[Discrepancy]:
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


def check_stuck(db: DbView, grace: Grace) -> list[Discrepancy]:
    out: list[Discrepancy] = []
    for o in db.orders_created:
        deadline = aware(o.payment_deadline)
        if db.now - deadline > timedelta(seconds=grace.order_s):
            late = (db.now - deadline).total_seconds()
            out.append(Discrepancy(ORDER_STUCK, o.event_id, f"order:{o.id}",
                                   f"CREATED {late:.0f}s past its payment deadline"
                                   + (" (payment still pending)"
                                      if o.id in db.pending_payment_orders else "")))
    for p in db.payments_pending:
        age = (db.now - aware(p.created_at)).total_seconds()
        if age > grace.payment_s:
            order = db.orders.get(p.order_id)
            out.append(Discrepancy(PAYMENT_STUCK, order.event_id if order else None,
                                   f"payment:{p.id}",
                                   f"PENDING for {age:.0f}s (order {p.order_id})"))
    return out


def _event_of(row: OutboxEvent) -> int | None:
    return int(row.partition_key) if row.partition_key.isdigit() else None


def check_outbox(db: DbView, grace: Grace) -> list[Discrepancy]:
    out: list[Discrepancy] = []
    limit = timedelta(seconds=grace.outbox_s)
    for row in db.outbox:
        subject = f"outbox:{row.id}"
        ev = _event_of(row)
        if row.status == "PENDING" and db.now - aware(row.created_at) > limit:
            age = (db.now - aware(row.created_at)).total_seconds()
            out.append(Discrepancy(OUTBOX_UNDELIVERED, ev, subject,
                                   f"{row.event_type} PENDING for {age:.0f}s "
                                   f"({row.attempts} attempts)"))
        elif row.status == "FAILED":
            out.append(Discrepancy(OUTBOX_UNDELIVERED, ev, subject,
                                   f"{row.event_type} FAILED: {row.last_error}"))
        elif row.status == "SENT":
            sent = aware(row.sent_at or row.created_at)
            age = (db.now - sent).total_seconds()
            if age > grace.outbox_s:
                out.append(Discrepancy(OUTBOX_UNPROCESSED, ev, subject,
                                       f"{row.event_type} sent {age:.0f}s ago, never processed "
                                       f"by {PROJECTION_CONSUMER}"))
    return out


def check_projection(db: DbView) -> list[Discrepancy]:
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

