"""The box office: comps (free tickets issued to a named customer, mailed) and named
reservations (seats held for a customer until the organiser releases them or converts them
into a confirmed order).

Both claim their seats through the same Lua step as every buyer's hold (claim_office.lua),
so a seat is never a comp and a buyer's at once; the database stays the final arbiter (the
seats are sold by a guarded UPDATE). Each is an order of its own kind (`OrderKind`), audited
in the transaction that writes it, so reports count comps and reservations apart from sales.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import col

from ticketing_app.db.engine import Database
from ticketing_app.db.models import BuyerContact, Order, OrderItem, Seat, now_utc
from ticketing_app.db.statements import CONFIRM_ORDER
from ticketing_app.domain import errors
from ticketing_app.domain.events import EventType
from ticketing_app.domain.identity import holder_tag
from ticketing_app.domain.orders import CancelKind, OrderKind, OrderStatus
from ticketing_app.holds.store import HoldStore
from ticketing_app.observability.tracing import current_trace_id
from ticketing_app.services.admin_base import record_audit
from ticketing_app.services.catalog import CatalogService
from ticketing_app.services.order_records import OrderView, emit_order_event, get_order
from ticketing_app.services.orders import OrderService
from ticketing_app.services.reservations import check_seat_ids
from ticketing_app.services.tickets import issue_tickets
from ticketing_app.services.uow import UnitOfWork
from ticketing_app.settings import Settings

EMAIL_RE = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,}$")
# A comp's seats are locked this long between Redis's claim and the sale's commit.
COMP_LOCK_S = 120
# A reservation lasts until the admin acts, at the latest until the event starts.
RESERVATION_FLOOR_S = 3600


@dataclass(frozen=True)
class Customer:
    name: str
    email: str

    @classmethod
    def checked(cls, name: str, email: str) -> Customer:
        name, email = (name or "").strip(), (email or "").strip()
        problems = []
        if not name or len(name) > 200:
            problems.append({"field": "name", "message": "required, at most 200 characters"})
        if not EMAIL_RE.match(email):
            problems.append({"field": "email", "message": "not an e-mail address"})
        if problems:
            raise errors.ValidationFailed("Name the customer and their e-mail address.",
                                          problems)
        return cls(name, email)


def office_holder(kind: OrderKind, token: str) -> str:
    """The holder id of a comp's or reservation's seats: the order's own, nobody's cookie."""
    return f"{kind.value.lower()}:{token[:20]}"


class CompsService:
    """Comps and reservations: seats claimed in Redis (`holds`), the event and layout from
    `catalog`, orders written to `db` and released through `orders` (its cancel frees the
    seats like any unpaid order's); `settings` gives the ticket codes' secret."""

    def __init__(self, db: Database, holds: HoldStore, catalog: CatalogService,
                 orders: OrderService, settings: Settings) -> None:
        self.db = db
        self.holds = holds
        self.catalog = catalog
        self.orders = orders
        self.settings = settings

    async def issue_comp(self, actor: str, event_id: int, seat_ids: Sequence[int],
                         name: str, email: str) -> OrderView:
        """Free tickets for these seats to a named customer, mailed to them."""
        return await self._claim(actor, event_id, seat_ids, Customer.checked(name, email),
                                 OrderKind.COMP)

    async def reserve(self, actor: str, event_id: int, seat_ids: Sequence[int],
                      name: str, email: str) -> OrderView:
        """Seats held for a named customer until released or converted (not the buyers'
        hold TTL): an open order of kind RESERVATION, its lock lasting until the event."""
        return await self._claim(actor, event_id, seat_ids, Customer.checked(name, email),
                                 OrderKind.RESERVATION)

    async def _claim(self, actor: str, event_id: int, seat_ids: Sequence[int],
                     who: Customer, kind: OrderKind) -> OrderView:
        seats = check_seat_ids(seat_ids)
        ev = await self.catalog.get_event(event_id, fresh=True)
        if ev.status == "CANCELLED":
            raise errors.Conflict("The event is cancelled.")
        layout = await self.catalog.layout(event_id, fresh=True)
        self.catalog.validate_seat_ids(seats, layout)
        now = datetime.now(UTC)
        if kind is OrderKind.COMP:
            until = now + timedelta(seconds=COMP_LOCK_S)
        else:
            starts = ev.starts_at if ev.starts_at.tzinfo else ev.starts_at.replace(tzinfo=UTC)
            until = max(starts, now + timedelta(seconds=RESERVATION_FLOOR_S))
        token = uuid.uuid4().hex
        holder = office_holder(kind, token)
        tag = holder_tag(self.settings.secret_key, event_id, holder)
        await self.holds.claim_for_office(event_id, holder, token,
                                          int(until.timestamp() * 1000), tag, seats)
        try:
            view = await self._write(actor, event_id, ev.currency, seats, token, holder,
                                     until, who, kind)
        except Exception:
            await self.holds.unlock_order(event_id, token, seats)
            raise
        if kind is OrderKind.COMP:
            await self.holds.confirm(event_id, token, holder, seats)
        return view

    async def _write(self, actor: str, event_id: int, currency: str, seats: list[int],
                     token: str, holder: str, until: datetime, who: Customer,
                     kind: OrderKind) -> OrderView:
        by_id = (await self.catalog.layout(event_id)).by_id()
        comp = kind is OrderKind.COMP
        async with UnitOfWork(self.db) as uow:
            s = uow.session
            prices = dict((await s.execute(
                select(col(Seat.id), col(Seat.price))
                .where(col(Seat.id).in_(seats), col(Seat.event_id) == event_id))).all())
            now = now_utc()
            order = Order(
                event_id=event_id, buyer_id=holder, status=OrderStatus.CREATED.value,
                total=0 if comp else sum(prices[sid] for sid in seats), currency=currency,
                idempotency_key=f"office:{token}", lock_token=token,
                trace_id=current_trace_id(), payment_deadline=until, created_at=now,
                updated_at=now, kind=kind.value, customer_name=who.name,
                customer_email=who.email)
            s.add(order)
            await s.flush()
            items = [OrderItem(order_id=int(order.id or 0), seat_id=sid,
                               price=0 if comp else prices[sid], currency=currency,
                               tier_name=by_id[sid].tier_name, seat_label=by_id[sid].label)
                     for sid in seats]
            s.add_all(items)
            await s.flush()
            view = OrderView(order, items)
            emit_order_event(uow, EventType.ORDER_CREATED, view, kind=kind.value)
            # The customer's address, where the ticket mail goes (the notifications consumer
            # reads it for the order's holder id, as for a buyer's My tickets address).
            s.add(BuyerContact(buyer_id=holder, email=who.email))
            if comp:
                await self._sell_in(uow, view)
            record_audit(uow, actor, f"{kind.value.lower()}.issue", f"order:{order.id}",
                         eventId=event_id, seats=seats, name=who.name, email=who.email)
            await uow.commit()
        return await get_order(self.db, int(order.id or 0))

    async def _sell_in(self, uow: UnitOfWork, view: OrderView) -> None:
        """The order confirmed, its seats sold (guarded: free in the database too), its
        tickets issued; ORDER_CONFIRMED tells the mailer."""
        s = uow.session
        order = view.order
        seats = [i.seat_id for i in view.items]
        now = now_utc()
        sold = await s.execute(
            update(Seat).where(col(Seat.id).in_(seats), col(Seat.event_id) == order.event_id,
                               col(Seat.status) == "AVAILABLE", col(Seat.order_id).is_(None))
            .values(status="SOLD", order_id=order.id, version=Seat.version + 1))
        if sold.rowcount != len(seats):  # type: ignore[attr-defined]
            raise errors.SeatSold("A seat is no longer available.",
                                  [{"seatId": sid, "status": "SOLD"} for sid in seats])
        await s.execute(CONFIRM_ORDER, {"b_order_id": order.id, "b_now": now})
        order.status = OrderStatus.CONFIRMED.value
        emit_order_event(uow, EventType.ORDER_CONFIRMED, view, kind=order.kind)
        await issue_tickets(s, self.settings.secret_key, order.event_id, int(order.id or 0),
                            view.items)

    # ---- a reservation's end --------------------------------------------------------------
    async def _reservation(self, order_id: int) -> OrderView:
        view = await get_order(self.db, order_id)
        if view.order.kind != OrderKind.RESERVATION.value:
            raise errors.Conflict("This order is not a reservation.",
                                  [{"field": "orderId", "message": view.order.kind}])
        if view.order.status != OrderStatus.CREATED.value:
            raise errors.Conflict(f"This reservation is already {view.order.status.lower()}.",
                                  [{"field": "orderId", "message": view.order.status}])
        return view

    async def release(self, actor: str, order_id: int) -> OrderView:
        """The seats go back on sale; the reservation is cancelled."""
        view = await self._reservation(order_id)
        await self.orders.cancel(order_id, None, "reservation released", CancelKind.RELEASED)
        async with UnitOfWork(self.db) as uow:
            record_audit(uow, actor, "reservation.release", f"order:{order_id}",
                         eventId=view.order.event_id,
                         seats=[i.seat_id for i in view.items])
            await uow.commit()
        return await get_order(self.db, order_id)

    async def convert(self, actor: str, order_id: int) -> OrderView:
        """The reservation becomes a confirmed order (paid at the box office): seats sold,
        tickets issued and mailed. Redis first (the lock, fenced by its token, becomes the
        sale), then the commit; a failed commit gives the lock back."""
        view = await self._reservation(order_id)
        o = view.order
        seats = [i.seat_id for i in view.items]
        async with UnitOfWork(self.db) as uow:
            res = await uow.session.execute(
                update(Order).where(col(Order.id) == order_id,
                                    col(Order.status) == OrderStatus.CREATED.value)
                .values(updated_at=now_utc()))
            if res.rowcount != 1:  # type: ignore[attr-defined]
                raise errors.Conflict("This reservation changed meanwhile; reload.")
            taken = await self.holds.confirm(o.event_id, o.lock_token, o.buyer_id, seats)
            if taken:
                raise errors.SeatSold("A seat of this reservation is no longer held for it.",
                                      taken)
            try:
                await self._sell_in(uow, view)
                record_audit(uow, actor, "reservation.convert", f"order:{order_id}",
                             eventId=o.event_id, seats=seats, total=o.total)
                await uow.commit()
            except Exception:
                until = int((time.time() + RESERVATION_FLOOR_S) * 1000)
                await self.holds.unsell(o.event_id, o.lock_token, seats)
                await self.holds.claim_for_office(
                    o.event_id, o.buyer_id, o.lock_token, until,
                    holder_tag(self.settings.secret_key, o.event_id, o.buyer_id), seats)
                raise
        return await get_order(self.db, order_id)

    async def list_for_event(self, event_id: int, limit: int = 100) -> list[OrderView]:
        """The event's comps and reservations, newest first."""
        async with self.db.read_sessions() as s:
            orders = list((await s.execute(
                select(Order).where(col(Order.event_id) == event_id,
                                    col(Order.kind).in_([OrderKind.COMP.value,
                                                         OrderKind.RESERVATION.value]))
                .order_by(col(Order.id).desc()).limit(limit))).scalars())
            items = list((await s.execute(select(OrderItem).where(
                col(OrderItem.order_id).in_([o.id for o in orders])).order_by(
                col(OrderItem.id)))).scalars()) if orders else []
        by_order: dict[int, list[OrderItem]] = {}
        for i in items:
            by_order.setdefault(i.order_id, []).append(i)
        return [OrderView(o, by_order.get(int(o.id or 0), [])) for o in orders]
