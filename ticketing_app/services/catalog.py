"""Events and seat maps for buyers, and building an event's Redis state from the database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import structlog
from sqlalchemy import select
from sqlmodel import col

from ticketing_app.db.engine import Database
from ticketing_app.db.models import Event, Order, OrderItem, PriceTier, Seat, Venue
from ticketing_app.domain import errors
from ticketing_app.domain.access import (
    ACCESSIBLE_TIER,
    access_kind,
    row_letters,
    stored_features,
    wheelchair_open_to_all,
)
from ticketing_app.domain.event_rules import PUBLISHED_STATUSES
from ticketing_app.domain.identity import holder_tag
from ticketing_app.domain.orders import OrderStatus
from ticketing_app.domain.sale_settings import room_meta
from ticketing_app.domain.seat_layout import Layout, SeatInfo
from ticketing_app.domain.seats import CODE_TO_STATUS
from ticketing_app.holds.answers import LoadData, Snapshot, TierRows
from ticketing_app.holds.store import HoldStore
from ticketing_app.settings import Settings

log = structlog.get_logger(__name__)

LAYOUT_CACHE_S = 2.0
V = TypeVar("V")


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
        "webHoldSeconds": ev.web_hold_s,
        "cancelReason": ev.cancel_reason or None,  # what buyers are told (CANCELLED only)
        # The presale (null: none): code holders may buy from the first, everyone from the
        # second.
        "presaleStartsAt": iso(ev.presale_starts_at) if ev.presale_starts_at else None,
        "publicSaleStartsAt": (iso(ev.public_sale_starts_at) if ev.public_sale_starts_at
                               else None),
    }


def event_meta(ev: Event) -> dict[str, Any]:
    return {
        "onsale": 1 if ev.status == "ON_SALE" else 0,
        "hmin": ev.hold_min_s,
        "hmax": ev.hold_max_s,
        "hdef": ev.hold_default_s,
        "hmaxtotal": ev.hold_max_total_s,
        "whold": ev.web_hold_s,
        "wmaxtotal": ev.web_hold_max_total_s,
        "limit": ev.max_seats_per_buyer,
        "orphan": 1 if ev.orphan_rule else 0,
        # The presale window (hold scripts' open_claim): 0 = none.
        "pubat": epoch_ms(ev.public_sale_starts_at),
        "preat": epoch_ms(ev.presale_starts_at),
        **room_meta(ev),
    }


def epoch_ms(when: datetime | None) -> int:
    if when is None:
        return 0
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1000)


def seat_map_body(layout: Layout, version: int, code_of: Callable[[int], str]
                  ) -> dict[str, Any]:
    """The seat map as `GET /api/events/{id}/seats` answers it (and the seat stream's INIT):
    the layout with each seat's status (`code_of(seat id)`: A, H, O, S or B) at `version`."""
    return {
        "eventId": layout.event_id,
        "rows": layout.rows,
        "cols": layout.cols,
        "version": version,
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
                "status": CODE_TO_STATUS[code_of(s.id)].value,
                # wheelchair, companion, restricted, aisle (domain/access.py)
                "features": sorted(s.features),
                "x": s.x,  # drawn at, in seat widths; null: at (c, r)
                "y": s.y,
            }
            for s in layout.seats
        ],
    }


class SharedCache(Generic[V]):
    """Per-event cache for data that changes rarely. Concurrent misses share one load, and an
    expired entry is served while one background reload runs: a cache expiry under load never
    makes a burst of requests wait for, or repeat, the same query (a 20,000-seat layout cost
    about 0.8 s of CPU per build, and every request that missed built its own)."""

    def __init__(self, ttl_s: float, load: Callable[[int], Awaitable[V]]):
        self.ttl_s = ttl_s
        self._load = load
        self._values: dict[int, tuple[float, V]] = {}
        self._inflight: dict[int, asyncio.Task[V]] = {}
        self._generation: dict[int, int] = {}

    async def get(self, key: int, fresh: bool = False) -> V:
        if fresh:
            return await self._run(key, self._generation.get(key, 0))
        hit = self._values.get(key)
        if hit is not None:
            if time.monotonic() - hit[0] >= self.ttl_s:
                self._start(key)
            return hit[1]
        return await asyncio.shield(self._start(key))

    def forget(self, key: int) -> None:
        self._values.pop(key, None)
        self._generation[key] = self._generation.get(key, 0) + 1

    def _start(self, key: int) -> asyncio.Task[V]:
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(
                self._run(key, self._generation.get(key, 0)))
            task.add_done_callback(_retrieve_exception)
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._inflight.pop(key, None)
                                   if self._inflight.get(key) is t else None)
        return task

    async def _run(self, key: int, generation: int) -> V:
        value = await self._load(key)
        if self._generation.get(key, 0) == generation:  # not forgotten while we loaded
            self._values[key] = (time.monotonic(), value)
        return value


def _retrieve_exception(task: asyncio.Task[Any]) -> None:
    """A background reload that failed is retried by the next request; nothing to report."""
    if not task.cancelled():
        task.exception()


def best_available_rows(seats: Sequence[Seat]) -> TierRows:
    """The best-available index for Redis (see holds/lua/best_available.lua): per tier (by id,
    and '*' for all), rows nearest the stage first (row 1 of every section, then row 2, ...),
    each with twice its physical centre column and the tier's seats in column order.

    Wheelchair spaces and companion seats are left out of every tier: a request for "two
    seats together" must never take a space that has no seat, or the seat beside it that a
    wheelchair user's companion needs. They form their own index, `ACCESSIBLE_TIER`, read by a
    request for a wheelchair space and its companions (its seat ids carry 'W' or 'C')."""
    rows: dict[tuple[int, str], list[Seat]] = {}
    for seat in seats:
        rows.setdefault((seat.r, seat.section), []).append(seat)
    out: TierRows = {}
    for (r, section), row in sorted(rows.items()):
        centre2 = min(x.c for x in row) + max(x.c for x in row)
        by_tier: dict[str, list[tuple[int, int]]] = {"*": []}
        for seat in sorted(row, key=lambda x: x.c):
            kind = access_kind(stored_features(seat.features))
            if kind:
                by_tier.setdefault(ACCESSIBLE_TIER, []).append((int(seat.id or 0), seat.c))
                continue
            by_tier["*"].append((int(seat.id or 0), seat.c))
            if seat.tier_id is not None:
                by_tier.setdefault(str(seat.tier_id), []).append((int(seat.id or 0), seat.c))
        for tier, tier_seats in by_tier.items():
            out.setdefault(tier, []).append((f"{section}:{r}", centre2, tier_seats))
    return out


class CatalogService:
    """Reads the database (events, layouts: cached) and builds each event's state in the hold
    store from it; `settings` for the holder tags' secret."""

    def __init__(self, db: Database, holds: HoldStore, settings: Settings) -> None:
        self.db = db
        self.holds = holds
        self.settings = settings
        self._layouts = SharedCache[Layout](LAYOUT_CACHE_S, self._load_layout)
        self._events = SharedCache[Event](LAYOUT_CACHE_S, self._load_event)
        self._zones = SharedCache[str](LAYOUT_CACHE_S, self._load_zone)
        self._venue_names = SharedCache[str](LAYOUT_CACHE_S, self._load_venue_name)

    # ---- reads ------------------------------------------------------------------------
    async def list_events(self, include_drafts: bool = False) -> list[Event]:
        async with self.db.read_sessions() as s:
            q = select(Event).order_by(col(Event.starts_at), col(Event.id))
            if not include_drafts:
                q = q.where(col(Event.status).in_(sorted(PUBLISHED_STATUSES)))
            return list((await s.execute(q)).scalars())

    async def get_event(self, event_id: int, fresh: bool = False) -> Event:
        """Any event, drafts included: the admin area and internal use. Buyers' routes and
        pages use `public_event`."""
        return await self._events.get(event_id, fresh)

    async def public_event(self, event_id: int, fresh: bool = False) -> Event:
        """The event as a buyer may see it: an unpublished one (DRAFT) is EventNotFound, the
        same answer as an id that does not exist, so enumerating ids reveals no draft."""
        ev = await self._events.get(event_id, fresh)
        if ev.status not in PUBLISHED_STATUSES:
            raise errors.EventNotFound(f"Event {event_id} not found.")
        return ev

    async def wheelchair_gate(self, event_id: int) -> tuple[frozenset[int], bool]:
        """(the event's wheelchair spaces, whether everyone may hold them now): two cached
        look-ups, no database round trip on the hold path."""
        layout = await self.layout(event_id)
        if not layout.wheelchair_ids:
            return layout.wheelchair_ids, True
        ev = await self.get_event(event_id)
        return layout.wheelchair_ids, wheelchair_open_to_all(
            ev.wheelchair_policy, ev.wheelchair_release_hours, ev.starts_at, datetime.now(UTC))

    async def unpublished_as_not_found(self, event_id: int, exc: Exception) -> Exception:
        """For refusals of the hot path (holds, releases), which do not look the event up when
        they succeed: the refusal of an unpublished event becomes its EventNotFound, so no
        answer tells a draft from an unknown id. Costs a cached look-up, on refusals only."""
        if isinstance(exc, errors.DomainError) and not isinstance(exc, errors.EventNotFound):
            try:
                await self.public_event(event_id)
            except errors.EventNotFound as hidden:
                return hidden
        return exc

    async def _load_event(self, event_id: int) -> Event:
        async with self.db.read_sessions() as s:
            ev = await s.get(Event, event_id)
        if ev is None:
            raise errors.EventNotFound(f"Event {event_id} not found.")
        return ev

    async def time_zone(self, ev: Event) -> str:
        """The IANA zone the event's times are shown in: its venue's (DEFAULT_TIME_ZONE for
        an event without a venue)."""
        if not ev.venue_id:
            return self.settings.default_time_zone
        return await self._zones.get(int(ev.venue_id))

    async def _load_zone(self, venue_id: int) -> str:
        async with self.db.read_sessions() as s:
            zone = (await s.execute(select(col(Venue.time_zone))
                                    .where(col(Venue.id) == venue_id))).scalar()
        return str(zone or self.settings.default_time_zone)

    async def venue_name(self, ev: Event) -> str:
        """Where the event takes place, as buyers are told ('' without a venue)."""
        return await self._venue_names.get(int(ev.venue_id)) if ev.venue_id else ""

    async def _load_venue_name(self, venue_id: int) -> str:
        async with self.db.read_sessions() as s:
            name = (await s.execute(select(col(Venue.name))
                                    .where(col(Venue.id) == venue_id))).scalar()
        return str(name or "")

    async def layout(self, event_id: int, fresh: bool = False) -> Layout:
        """Seat positions and prices change rarely: cached for a couple of seconds."""
        return await self._layouts.get(event_id, fresh)

    async def _load_layout(self, event_id: int) -> Layout:
        # Plain columns, not ORM objects: a 20,000-seat venue costs a fraction of the CPU.
        ev = await self.get_event(event_id, fresh=True)
        async with self.db.read_sessions() as s:
            tiers = {tid: (name, color) for tid, name, color in (await s.execute(
                select(col(PriceTier.id), col(PriceTier.name), col(PriceTier.color))
                .where(col(PriceTier.event_id) == event_id))).all()}
            rows = (await s.execute(
                select(col(Seat.id), col(Seat.section), col(Seat.r), col(Seat.c),
                       col(Seat.price), col(Seat.tier_id), col(Seat.features),
                       col(Seat.x), col(Seat.y))
                .where(col(Seat.event_id) == event_id)
                .order_by(col(Seat.section), col(Seat.r), col(Seat.c)))).all()
        no_tier = ("", "#10b981")
        letters = row_letters(r for _, _, r, *_ in rows)
        infos = tuple(
            SeatInfo(id=int(sid), section=section, r=r, c=c, price=price, tier_id=tier_id,
                     tier_name=tiers.get(tier_id, no_tier)[0],
                     tier_color=tiers.get(tier_id, no_tier)[1],
                     features=stored_features(features), row_name=letters[r], x=x, y=y)
            for sid, section, r, c, price, tier_id, features, x, y in rows
        )
        return Layout(
            event_id=event_id,
            rows=max((s.r for s in infos), default=0),
            cols=max((s.c for s in infos), default=0),
            currency=ev.currency,
            seats=infos,
        )

    def forget(self, event_id: int) -> None:
        self._layouts.forget(event_id)
        self._events.forget(event_id)

    async def snapshot(self, event_id: int) -> Snapshot:
        snap = await self.holds.snapshot(event_id)
        if snap is None:
            await self.load_event_state(event_id)
            snap = await self.holds.snapshot(event_id)
            if snap is None:
                raise errors.ServiceUnavailable("Seat state is being rebuilt; retry shortly.")
        return snap

    async def seat_map(self, event_id: int) -> dict[str, Any]:
        """`{rows, cols, seats: [{id, r, c, price, status}]}`: layout from the database (cached),
        status from one Redis snapshot (the original scanned Redis with KEYS). Buyers'
        view: an unpublished event is not found."""
        await self.public_event(event_id)
        layout = await self.layout(event_id)
        snap = await self.snapshot(event_id)
        return seat_map_body(layout, snap.version, snap.public_code)

    # ---- Redis state from the database ------------------------------------------------
    async def load_event_state(self, event_id: int) -> None:
        """First use of an event in this Redis, or Redis restarted empty: rebuild sold seats,
        blocked seats and open orders' locks from the database. One loader at a time."""
        deadline = time.monotonic() + 10
        while not await self.holds.claim_loading(event_id):
            if await self.holds.is_loaded(event_id):
                return
            if time.monotonic() > deadline:
                raise errors.ServiceUnavailable("Seat state is being rebuilt; retry shortly.")
            await asyncio.sleep(0.05)
        try:
            if await self.holds.is_loaded(event_id):
                return
            data = await self.build_load_data(event_id)
            await self.holds.load(event_id, data)
        finally:
            await self.holds.end_loading(event_id)

    async def repair_event_state(self, event_id: int) -> None:
        """After a failover's rebuild: sales and open orders' locks the database gained while
        the rebuild read it, put back (HoldStore.repair)."""
        n = await self.holds.repair(event_id, await self.build_load_data(event_id))
        if n:
            log.warning("event_state_repaired", event_id=event_id, seats=n)

    async def build_load_data(self, event_id: int) -> LoadData:
        ev = await self.get_event(event_id, fresh=True)
        now = datetime.now(UTC)
        secret = self.settings.secret_key
        async with self.db.read_sessions() as s:
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
            kinds={int(x.id or 0): k for x in seats
                   if (k := access_kind(stored_features(x.features)))},
        )

    async def refresh_event_state(self, event_id: int) -> None:
        """After an admin change: settings and layout to Redis now, holds untouched."""
        self.forget(event_id)
        if not await self.holds.is_loaded(event_id):
            await self.load_event_state(event_id)
            return
        data = await self.build_load_data(event_id)
        await self.holds.load(event_id, data, layout_only=True)

    def tag_for(self, event_id: int, buyer: str) -> str:
        return holder_tag(self.settings.secret_key, event_id, buyer)

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
