"""An event's price tiers and seats: add, change, delete and assign tiers, take seats out of
a draft's layout. A change that would break a sale (a price under an open order, a sold seat
removed) is refused with the seats and orders in the way."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, or_, select, update
from sqlmodel import col

from ticketing_app.db.models import Order, OrderItem, PriceTier, Seat
from ticketing_app.domain import errors
from ticketing_app.domain.event_rules import check_tier
from ticketing_app.domain.layouts import Problems
from ticketing_app.domain.orders import OrderStatus
from ticketing_app.domain.seats import seat_label
from ticketing_app.services.admin_base import AdminBase, seat_names
from ticketing_app.services.uow import UnitOfWork


class TierAdmin(AdminBase):
    """Tiers and seats: the database, then the event's state in Redis."""

    @staticmethod
    async def _tier_in(uow: UnitOfWork, event_id: int, tier_id: int) -> PriceTier:
        tier = await uow.session.get(PriceTier, tier_id)
        if tier is None or tier.event_id != event_id:
            raise errors.NotFound(f"Price tier {tier_id} not found in this event.")
        return tier

    async def add_tier(self, actor: str, event_id: int, name: str, price: int,
                       color: str) -> PriceTier:
        p = Problems()
        check_tier(name, price, color, "tier", p)
        p.raise_if_any("Invalid price tier")
        async with UnitOfWork(self.db) as uow:
            await self._editable_event(uow, event_id)
            await self._check_tier_name_free(uow, event_id, name, None)
            tier = PriceTier(event_id=event_id, name=name.strip(), price=price, color=color)
            uow.session.add(tier)
            await uow.session.flush()
            self.audit(uow, actor, "tier.create", f"event:{event_id}", tierId=tier.id,
                       name=tier.name, price=price, color=color)
            await uow.commit()
        return tier

    async def update_tier(self, actor: str, event_id: int, tier_id: int, name: str,
                          price: int, color: str) -> PriceTier:
        """A price change reaches every seat of the tier; refused while any of them is in an
        order awaiting payment (the buyer is paying the price they were shown)."""
        p = Problems()
        check_tier(name, price, color, "tier", p)
        p.raise_if_any("Invalid price tier")
        async with UnitOfWork(self.db) as uow:
            s = uow.session
            await self._editable_event(uow, event_id)
            tier = await self._tier_in(uow, event_id, tier_id)
            await self._check_tier_name_free(uow, event_id, name, tier_id)
            old = {"name": tier.name, "price": tier.price, "color": tier.color}
            if price != tier.price:
                seats = list((await s.execute(select(Seat).where(
                    col(Seat.event_id) == event_id, col(Seat.tier_id) == tier_id))).scalars())
                await self._refuse_open_orders(uow, seats, "change the price of")
                await s.execute(update(Seat).where(col(Seat.event_id) == event_id,
                                                   col(Seat.tier_id) == tier_id)
                                .values(price=price))
            tier.name, tier.price, tier.color = name.strip(), price, color
            self.audit(uow, actor, "tier.update", f"event:{event_id}", tierId=tier_id, old=old,
                       new={"name": tier.name, "price": price, "color": color})
            await uow.commit()
        self.catalog.forget(event_id)
        await self.catalog.refresh_event_state(event_id)
        return tier

    async def delete_tier(self, actor: str, event_id: int, tier_id: int) -> None:
        async with UnitOfWork(self.db) as uow:
            s = uow.session
            await self._event_for_update(uow, event_id)
            tier = await self._tier_in(uow, event_id, tier_id)
            used = (await s.execute(select(func.count()).select_from(Seat).where(
                col(Seat.tier_id) == tier_id))).scalar_one()
            if used:
                raise errors.Conflict(
                    f"Tier {tier.name!r} still prices {used} seat(s); assign them to another "
                    "tier first.")
            await s.delete(tier)
            self.audit(uow, actor, "tier.delete", f"event:{event_id}", tierId=tier_id,
                       name=tier.name)
            await uow.commit()

    async def assign_tier(
        self, actor: str, event_id: int, tier_id: int, *, seat_ids: Sequence[int] = (),
        sections: Sequence[str] = (), rows: Sequence[int] = (),
    ) -> int:
        """Puts seats (by id, by whole section or by row) into a tier at the tier's price."""
        if not (seat_ids or sections or rows):
            raise errors.ValidationFailed("Choose seats, sections or rows to assign.",
                                          [{"field": "seats", "message": "required"}])
        async with UnitOfWork(self.db) as uow:
            s = uow.session
            await self._editable_event(uow, event_id)
            tier = await self._tier_in(uow, event_id, tier_id)
            cond = [col(Seat.id).in_(list(seat_ids))] if seat_ids else []
            if sections:
                cond.append(col(Seat.section).in_(list(sections)))
            if rows:
                cond.append(col(Seat.r).in_(list(rows)))
            seats = list((await s.execute(select(Seat).where(
                col(Seat.event_id) == event_id, or_(*cond)))).scalars())
            if seat_ids:
                unknown = set(seat_ids) - {x.id for x in seats}
                if unknown:
                    raise errors.ValidationFailed(
                        "Some seats are not in this event.",
                        [{"field": "seatIds", "message": f"unknown seat {u}"}
                         for u in sorted(unknown)[:20]])
            if not seats:
                raise errors.ValidationFailed("No seat matches that choice.",
                                              [{"field": "seats", "message": "none matched"}])
            repriced = [x for x in seats if x.price != tier.price]
            await self._refuse_open_orders(uow, repriced, "change the price of")
            ids = [int(x.id or 0) for x in seats]
            await s.execute(update(Seat).where(col(Seat.id).in_(ids))
                            .values(tier_id=tier_id, price=tier.price))
            self.audit(uow, actor, "tier.assign", f"event:{event_id}", tierId=tier_id,
                       tier=tier.name, seats=len(ids), sections=list(sections),
                       rows=list(rows))
            await uow.commit()
        self.catalog.forget(event_id)
        await self.catalog.refresh_event_state(event_id)
        return len(ids)

    async def remove_seats(self, actor: str, event_id: int, seat_ids: Sequence[int]) -> int:
        """Takes seats out of an event's layout: only in a draft, and never a seat any order
        ever touched (block such a seat instead, so its history stays whole)."""
        if not seat_ids:
            raise errors.ValidationFailed("Choose seats to remove.",
                                          [{"field": "seatIds", "message": "required"}])
        async with UnitOfWork(self.db) as uow:
            s = uow.session
            ev = await self._event_for_update(uow, event_id)
            seats = list((await s.execute(select(Seat).where(
                col(Seat.event_id) == event_id, col(Seat.id).in_(list(seat_ids))))).scalars())
            unknown = set(seat_ids) - {x.id for x in seats}
            if unknown:
                raise errors.ValidationFailed(
                    "Some seats are not in this event.",
                    [{"field": "seatIds", "message": f"unknown seat {u}"}
                     for u in sorted(unknown)[:20]])
            sold = [x for x in seats if x.status == "SOLD" or x.order_id is not None]
            if sold:
                raise errors.Conflict(
                    f"Cannot remove sold seats: {seat_names(sold)}. Refund them first.",
                    [{"seatId": x.id, "status": "SOLD", "orderId": x.order_id} for x in sold])
            if ev.status != "DRAFT":
                raise errors.Conflict(
                    "Seats can be removed only while the event is a draft (buyers may have "
                    "the map open); block them instead.")
            touched = set((await s.execute(select(col(OrderItem.seat_id)).where(
                col(OrderItem.seat_id).in_(list(seat_ids))))).scalars())
            if touched:
                bad = [x for x in seats if x.id in touched]
                raise errors.Conflict(
                    f"Seats with order history cannot be removed: {seat_names(bad)}; block "
                    "them instead.",
                    [{"seatId": x.id, "status": "ORDERED"} for x in bad])
            await s.execute(delete(Seat).where(col(Seat.id).in_(list(seat_ids))))
            self.audit(uow, actor, "seats.remove", f"event:{event_id}",
                       seats=[seat_label(x.section, x.r, x.c) for x in seats])
            await uow.commit()
        await self.holds.reset_event(event_id)
        self.catalog.forget(event_id)
        await self.catalog.load_event_state(event_id)
        return len(seats)

    async def _refuse_open_orders(self, uow: UnitOfWork, seats: Sequence[Seat],
                                  what: str) -> None:
        if not seats:
            return
        ids = [int(x.id or 0) for x in seats]
        q = select(col(OrderItem.seat_id), col(Order.id)).join(
            Order, col(Order.id) == col(OrderItem.order_id)).where(
            col(OrderItem.seat_id).in_(ids), col(Order.status) == OrderStatus.CREATED.value)
        if self.db.is_postgres:
            await uow.session.execute(select(col(Seat.id)).where(col(Seat.id).in_(ids))
                                      .with_for_update())
        rows = (await uow.session.execute(q)).all()
        if rows:
            by_id = {x.id: x for x in seats}
            blocked = [by_id[sid] for sid, _ in rows]
            orders = sorted({oid for _, oid in rows})
            raise errors.Conflict(
                f"Cannot {what} {seat_names(blocked)}: in order(s) awaiting payment "
                f"({', '.join(f'#{o}' for o in orders[:5])}). Try again when they are paid or "
                "expired.",
                [{"seatId": sid, "status": "ORDERED", "orderId": oid} for sid, oid in rows][:20])

    @staticmethod
    async def _check_tier_name_free(uow: UnitOfWork, event_id: int, name: str,
                                    tier_id: int | None) -> None:
        others = (await uow.session.execute(select(PriceTier).where(
            col(PriceTier.event_id) == event_id))).scalars()
        if any(t.name.strip().lower() == name.strip().lower() and t.id != tier_id
               for t in others):
            raise errors.ValidationFailed(f"A tier named {name.strip()!r} already exists.",
                                          [{"field": "name", "message": "duplicate"}])

