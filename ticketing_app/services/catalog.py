"""Events and seat maps for buyers, and building an event's Redis state from the database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlmodel import col

from ticketing_app.db.models import Event, Order, OrderItem, PriceTier, Seat
from ticketing_app.domain import errors
from ticketing_app.domain.identity import holder_tag
from ticketing_app.domain.orders import OrderStatus
from ticketing_app.domain.seats import CODE_TO_STATUS, seat_label
from ticketing_app.holds.keys import EventKeys
from ticketing_app.holds.store import LoadData, Snapshot, TierRows

if TYPE_CHECKING:
    from ticketing_app.runtime import Runtime

LAYOUT_CACHE_S = 2.0


@dataclass(frozen=True)
class SeatInfo:
    id: int
    section: str
    r: int
    c: int
    price: int
    tier_id: int | None
    tier_name: str
    tier_color: str

    @property
    def label(self) -> str:
        return seat_label(self.section, self.r, self.c)

    @property
    def row_key(self) -> str:
        return f"{self.section}:{self.r}"


@dataclass(frozen=True)
class Layout:
    event_id: int
    rows: int
    cols: int
    currency: str
    seats: tuple[SeatInfo, ...]

    def by_id(self) -> dict[int, SeatInfo]:
        return {s.id: s for s in self.seats}


def event_public(ev: Event) -> dict[str, Any]:
    """The original's event shape, plus what our clients need."""
    from ticketing_app.domain.events import iso

    return {
        "id": ev.id,
        "title": ev.title,
        "dateTime": iso(ev.starts_at),
        "description": ev.description,
        "status": ev.status,
        "currency": ev.currency,
        "venueId": ev.venue_id,
        "holdSeconds": {"default": ev.hold_default_s, "min": ev.hold_min_s, "max": ev.hold_max_s},
        "maxSeatsPerBuyer": ev.max_seats_per_buyer,
        "orphanRule": ev.orphan_rule,
        "waitingRoom": ev.waiting_room,
    }


def event_meta(ev: Event) -> dict[str, Any]:
    from ticketing_app.services.waiting_room import room_meta

    return {
        "onsale": 1 if ev.status == "ON_SALE" else 0,
        "hmin": ev.hold_min_s,
        "hmax": ev.hold_max_s,
        "hdef": ev.hold_default_s,
        "hmaxtotal": ev.hold_max_total_s,
        "limit": ev.max_seats_per_buyer,
        "orphan": 1 if ev.orphan_rule else 0,
        **room_meta(ev),
    }


def best_available_rows(seats: Sequence[Seat]) -> TierRows:
    """The best-available index for Redis (see holds/lua/best_available.lua): per tier (by id,
    and '*' for all), rows nearest the stage first (row 1 of every section, then row 2, ...),
    each with twice its physical centre column and the tier's seats in column order."""
    rows: dict[tuple[int, str], list[Seat]] = {}
    for seat in seats:
        rows.setdefault((seat.r, seat.section), []).append(seat)
    out: TierRows = {}
    for (r, section), row in sorted(rows.items()):
        centre2 = min(x.c for x in row) + max(x.c for x in row)
        by_tier: dict[str, list[tuple[int, int]]] = {"*": []}
        for seat in sorted(row, key=lambda x: x.c):
            by_tier["*"].append((int(seat.id or 0), seat.c))
            if seat.tier_id is not None:
                by_tier.setdefault(str(seat.tier_id), []).append((int(seat.id or 0), seat.c))
        for tier, tier_seats in by_tier.items():
            out.setdefault(tier, []).append((f"{section}:{r}", centre2, tier_seats))
    return out


class CatalogService:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self._layouts: dict[int, tuple[float, Layout]] = {}
        self._events: dict[int, tuple[float, Event]] = {}

    # ---- reads ------------------------------------------------------------------------
    async def list_events(self, include_drafts: bool = False) -> list[Event]:
        async with self.rt.db.read_sessions() as s:
            q = select(Event).order_by(col(Event.starts_at), col(Event.id))
            if not include_drafts:
                q = q.where(col(Event.status).in_(["ON_SALE", "CLOSED", "CANCELLED"]))
            return list((await s.execute(q)).scalars())

    async def get_event(self, event_id: int, fresh: bool = False) -> Event:
        cached = self._events.get(event_id)
        if cached and not fresh and time.monotonic() - cached[0] < LAYOUT_CACHE_S:
            return cached[1]
        async with self.rt.db.read_sessions() as s:
            ev = await s.get(Event, event_id)
        if ev is None:
            raise errors.EventNotFound(f"Event {event_id} not found.")
        self._events[event_id] = (time.monotonic(), ev)
        return ev

    async def layout(self, event_id: int, fresh: bool = False) -> Layout:
        """Seat positions and prices change rarely: cached for a couple of seconds."""
        cached = self._layouts.get(event_id)
        if cached and not fresh and time.monotonic() - cached[0] < LAYOUT_CACHE_S:
            return cached[1]
        ev = await self.get_event(event_id, fresh=fresh)
        async with self.rt.db.read_sessions() as s:
            tiers = {
                t.id: t
                for t in (
                    await s.execute(select(PriceTier).where(col(PriceTier.event_id) == event_id))
                ).scalars()
            }
            seats = list(
                (
                    await s.execute(
                        select(Seat)
                        .where(col(Seat.event_id) == event_id)
                        .order_by(col(Seat.section), col(Seat.r), col(Seat.c))
                    )
                ).scalars()
            )
        infos = tuple(
            SeatInfo(
                id=int(seat.id or 0),
                section=seat.section,
                r=seat.r,
                c=seat.c,
                price=seat.price,
                tier_id=seat.tier_id,
                tier_name=tiers[seat.tier_id].name if seat.tier_id in tiers else "",
                tier_color=tiers[seat.tier_id].color if seat.tier_id in tiers else "#10b981",
            )
            for seat in seats
        )
        layout = Layout(
            event_id=event_id,
            rows=max((s.r for s in infos), default=0),
            cols=max((s.c for s in infos), default=0),
            currency=ev.currency,
            seats=infos,
        )
        self._layouts[event_id] = (time.monotonic(), layout)
        return layout

    def forget(self, event_id: int) -> None:
        self._layouts.pop(event_id, None)
        self._events.pop(event_id, None)

    async def snapshot(self, event_id: int) -> Snapshot:
        snap = await self.rt.holds.snapshot(event_id)
        if snap is None:
            await self.load_event_state(event_id)
            snap = await self.rt.holds.snapshot(event_id)
            if snap is None:
                raise errors.ServiceUnavailable("Seat state is being rebuilt; retry shortly.")
        return snap

    async def seat_map(self, event_id: int) -> dict[str, Any]:
        """`{rows, cols, seats: [{id, r, c, price, status}]}`: layout from the database (cached),
        status from one Redis snapshot (the original scanned Redis with KEYS)."""
        layout = await self.layout(event_id)
        snap = await self.snapshot(event_id)
        return {
            "eventId": event_id,
            "rows": layout.rows,
            "cols": layout.cols,
            "version": snap.version,
            "currency": layout.currency,
            "seats": [
                {
                    "id": s.id,
                    "r": s.r,
                    "c": s.c,
                    "section": s.section,
                    "label": s.label,
                    "price": s.price,
                    "tier": s.tier_name,
                    "status": CODE_TO_STATUS[snap.public_code(s.id)].value,
                }
                for s in layout.seats
            ],
        }

    # ---- Redis state from the database ------------------------------------------------
    async def load_event_state(self, event_id: int) -> None:
        """First use of an event in this Redis, or Redis restarted empty: rebuild sold seats,
        blocked seats and open orders' locks from the database. One loader at a time."""
        redis = self.rt.redis
        lock_key = EventKeys(event_id).load_lock
        deadline = time.monotonic() + 10
        while not await redis.set(lock_key, "1", nx=True, ex=15):
            if await self.rt.holds.is_loaded(event_id):
                return
            if time.monotonic() > deadline:
                raise errors.ServiceUnavailable("Seat state is being rebuilt; retry shortly.")
            await asyncio.sleep(0.05)
        try:
            if await self.rt.holds.is_loaded(event_id):
                return
            data = await self.build_load_data(event_id)
            await self.rt.holds.load(event_id, data)
        finally:
            await redis.delete(lock_key)

    async def build_load_data(self, event_id: int) -> LoadData:
        ev = await self.get_event(event_id, fresh=True)
        now = datetime.now(UTC)
        secret = self.rt.settings.secret_key
        async with self.rt.db.read_sessions() as s:
            seats = list(
                (await s.execute(select(Seat).where(col(Seat.event_id) == event_id))).scalars()
            )
            sold_rows = (
                await s.execute(
                    select(col(Seat.id), col(Order.lock_token), col(Order.buyer_id))
                    .join(Order, col(Order.id) == col(Seat.order_id))
                    .where(col(Seat.event_id) == event_id, col(Seat.status) == "SOLD")
                )
            ).all()
            open_rows = (
                await s.execute(
                    select(
                        col(OrderItem.seat_id),
                        col(Order.lock_token),
                        col(Order.buyer_id),
                        col(Order.payment_deadline),
                    )
                    .join(Order, col(Order.id) == col(OrderItem.order_id))
                    .where(
                        col(Order.event_id) == event_id,
                        col(Order.status) == OrderStatus.CREATED.value,
                        col(Order.payment_deadline) > now,
                    )
                )
            ).all()
        return LoadData(
            meta=event_meta(ev),
            seats=[(int(x.id or 0), f"{x.section}:{x.r}", x.c) for x in seats],
            sold=[(int(sid), tok, buyer) for sid, tok, buyer in sold_rows],
            blocked=[int(x.id or 0) for x in seats if x.status == "BLOCKED"],
            locks=[
                (
                    int(sid),
                    tok,
                    buyer,
                    int(deadline.timestamp() * 1000),
                    holder_tag(secret, event_id, buyer),
                )
                for sid, tok, buyer, deadline in open_rows
            ],
            rows=best_available_rows(seats),
        )

    async def refresh_event_state(self, event_id: int) -> None:
        """After an admin change: settings and layout to Redis now, holds untouched."""
        self.forget(event_id)
        if not await self.rt.holds.is_loaded(event_id):
            await self.load_event_state(event_id)
            return
        data = await self.build_load_data(event_id)
        await self.rt.holds.load(event_id, data, layout_only=True)

    def tag_for(self, event_id: int, buyer: str) -> str:
        return holder_tag(self.rt.settings.secret_key, event_id, buyer)

    @staticmethod
    def validate_seat_ids(seat_ids: Sequence[int], layout: Layout) -> list[int]:
        known = layout.by_id()
        unknown = [s for s in seat_ids if s not in known]
        if unknown:
            raise errors.ValidationFailed(
                "No such seat in this event.",
                [{"field": "seatIds", "message": f"unknown seat {s}"} for s in unknown],
            )
        return list(dict.fromkeys(seat_ids))
