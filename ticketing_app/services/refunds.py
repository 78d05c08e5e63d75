"""Refunds of paid orders, whole or some seats: by the organiser, or by an event's
cancellation. Each seat is refunded once however often a refund runs."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlmodel import col

from ticketing_app.db.engine import Database
from ticketing_app.db.models import AuditLog, Order, OrderItem, Payment, Seat, Ticket, now_utc
from ticketing_app.domain import errors
from ticketing_app.domain.events import EventType
from ticketing_app.domain.orders import OrderStatus, PaymentStatus
from ticketing_app.holds.store import HoldStore
from ticketing_app.services.order_records import OrderView, emit_order_event, get_order
from ticketing_app.services.uow import UnitOfWork


class RefundService:
    """The database (`db`) is changed first, in one transaction; then Redis (`holds`) sells
    the seats again (or keeps them blocked)."""

    def __init__(self, db: Database, holds: HoldStore) -> None:
        self.db = db
        self.holds = holds

    async def refund(
        self, order_id: int, seat_ids: Sequence[int] | None = None, block: bool = False,
        reason: str = "refunded by organiser", actor: str = "",
    ) -> OrderView:
        """Refund a paid order, or some of its seats. Each seat is refunded once however often
        this runs (the order row is locked and every step is a guarded UPDATE); the order
        becomes REFUNDED when no seat is left. Seats return to sale, or stay blocked."""
        view = await get_order(self.db, order_id)
        order = view.order
        if order.status == OrderStatus.REFUNDED.value:
            await self._resync_refunded(view)  # a run cut off before Redis heard of it
            return view
        if order.status != OrderStatus.CONFIRMED.value:
            raise errors.Conflict(f"Order is {order.status}; only paid orders can be refunded.")
        wanted = None if seat_ids is None else set(int(x) for x in seat_ids)
        if wanted is not None:
            items = {i.seat_id: i for i in view.items}
            unknown = sorted(wanted - set(items))
            done = sorted(s for s in wanted & set(items) if items[s].refunded)
            if unknown or done or not wanted:
                raise errors.ValidationFailed(
                    "Choose seats of this order that are not refunded yet.",
                    [{"seatId": s, "status": "NOT_IN_ORDER"} for s in unknown]
                    + [{"seatId": s, "status": "REFUNDED"} for s in done])
        chosen = [i for i in view.items if not i.refunded and
                  (wanted is None or i.seat_id in wanted)]
        if not chosen:
            return view
        ids = [i.seat_id for i in chosen]
        amount = sum(i.price for i in chosen)
        async with UnitOfWork(self.db) as uow:
            s = uow.session
            lock = select(col(Order.status)).where(col(Order.id) == order_id)
            if self.db.is_postgres:
                lock = lock.with_for_update()  # concurrent partial refunds of one order queue
            if (await s.execute(lock)).scalar_one() != OrderStatus.CONFIRMED.value:
                return await get_order(self.db, order_id)
            marked = await s.execute(
                update(OrderItem)
                .where(
                    col(OrderItem.id).in_([i.id for i in chosen]),
                    col(OrderItem.refunded).is_(False),
                )
                .values(refunded=True)
            )
            if marked.rowcount != len(chosen):  # type: ignore[attr-defined]
                # A concurrent refund did it (this transaction is rolled back).
                return await get_order(self.db, order_id)
            await s.execute(update(Seat).where(col(Seat.id).in_(ids),
                                               col(Seat.order_id) == order_id)
                            .values(status="BLOCKED" if block else "AVAILABLE", order_id=None,
                                    version=Seat.version + 1))
            await s.execute(update(Ticket).where(col(Ticket.order_id) == order_id,
                                                 col(Ticket.seat_id).in_(ids))
                            .values(status="REFUNDED"))
            remaining = (await s.execute(select(func.count()).select_from(OrderItem).where(
                col(OrderItem.order_id) == order_id, col(OrderItem.refunded).is_(False))
            )).scalar_one()
            if remaining == 0:
                await s.execute(update(Order).where(col(Order.id) == order_id,
                                                    col(Order.status) == "CONFIRMED")
                                .values(status=OrderStatus.REFUNDED.value, closed_at=now_utc(),
                                        updated_at=now_utc(), close_reason=reason))
                await s.execute(update(Payment).where(col(Payment.order_id) == order_id,
                                                      col(Payment.status) == "AUTHORIZED")
                                .values(status=PaymentStatus.REFUNDED.value,
                                        updated_at=now_utc()))
            emit_order_event(uow, EventType.ORDER_REFUNDED, view, refundedSeatIds=ids,
                             amount=amount, full=remaining == 0, reason=reason, blocked=block)
            if actor:  # the organiser's refund is audited in the same transaction
                s.add(AuditLog(actor=actor, action="order.refund", target=f"order:{order_id}",
                               details={"seats": ids, "block": block, "amount": amount,
                                        "full": remaining == 0}))
            await uow.commit()
        await self.holds.unsell(order.event_id, order.lock_token, ids, block=block)
        return await get_order(self.db, order_id)

    async def _resync_refunded(self, view: OrderView) -> None:
        """Redis forgets nothing it was told, but a crash between the commit and the Redis
        call leaves refunded seats sold there: tell it again (only seats still sold to this
        order's token change, so this is harmless when it already happened)."""
        ids = [i.seat_id for i in view.items if i.refunded]
        if not ids:
            return
        async with self.db.read_sessions() as s:
            blocked = set((await s.execute(select(col(Seat.id)).where(
                col(Seat.id).in_(ids), col(Seat.status) == "BLOCKED"))).scalars())
        o = view.order
        free = [x for x in ids if x not in blocked]
        if free:
            await self.holds.unsell(o.event_id, o.lock_token, free, block=False)
        if blocked:
            await self.holds.unsell(o.event_id, o.lock_token, sorted(blocked), block=True)

