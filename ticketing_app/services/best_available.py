"""Best available: "N seats together in tier T", chosen and held in one atomic Lua script.

Scoring (also in docs/onsale.md): the row nearest the stage first (row 1 of each section, then
row 2, ...); in that row, the block whose centre is nearest the row's centre, ties to the left.
Only blocks of consecutive seats (no aisle or gap inside) that are all free qualify, and with
the orphan rule on, only blocks that leave no single free seat between taken seats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ticketing_app.db.models import Event
from ticketing_app.domain import errors
from ticketing_app.domain.access import ACCESSIBLE_TIER
from ticketing_app.domain.events import iso, ms_to_dt
from ticketing_app.domain.seat_layout import (
    Layout,
    SeatInfo,
    accessible_companions_max,
    longest_block,
    tier_id_for,
)
from ticketing_app.domain.seats import clamp_hold_seconds
from ticketing_app.holds.answers import BestResult
from ticketing_app.holds.store import HoldStore
from ticketing_app.observability import metrics
from ticketing_app.services.catalog import CatalogService
from ticketing_app.services.reservations import (
    MAX_SEATS_PER_REQUEST,
    ReservationService,
    admission_error,
)
from ticketing_app.services.waiting_room import WaitingRoomService


@dataclass(frozen=True)
class BestHold:
    event_id: int
    tier: str | None
    seats: list[SeatInfo]
    hold_seconds: int
    expires_at: datetime
    version: int

    @property
    def seat_ids(self) -> list[int]:
        return [s.id for s in self.seats]


class BestAvailableService:
    """One script through `holds`; counted against the same abuse limits as `reservations`;
    the layout from `catalog`, the admission from `waiting`."""

    def __init__(self, holds: HoldStore, catalog: CatalogService,
                 reservations: ReservationService, waiting: WaitingRoomService) -> None:
        self.holds = holds
        self.catalog = catalog
        self.reservations = reservations
        self.waiting = waiting

    async def hold_best(
        self, buyer: str, event_id: int, quantity: int, tier: str | None,
        hold_seconds: int | None, admission: str | None = None, client: str | None = None,
        companions: int | None = None, web: bool = False,
    ) -> BestHold:
        """Counted with the holds, against the same abuse limits (the REST API and the web UI
        both come here); `client`: the buyer's address; `web`: the web app's hold time.
        `companions` (not None): "a wheelchair space and this many companion seats beside
        it", whatever the tier."""
        try:
            if companions is not None:
                held = await self._hold_accessible(buyer, event_id, companions, hold_seconds,
                                                   admission, client, web)
            else:
                held = await self._hold_best(buyer, event_id, quantity, tier, hold_seconds,
                                             admission, client, web)
        except Exception as exc:
            metrics.hold_attempt(getattr(exc, "code", "ERROR"))
            raise
        metrics.hold_attempt("OK")
        return held

    async def _hold_best(
        self, buyer: str, event_id: int, quantity: int, tier: str | None,
        hold_seconds: int | None, admission: str | None, client: str | None, web: bool,
    ) -> BestHold:
        holds = self.reservations
        ev = await self.catalog.public_event(event_id)
        holds.screened(event_id, buyer, client)
        if not 1 <= quantity <= MAX_SEATS_PER_REQUEST:
            raise errors.ValidationFailed(
                f"Ask for 1 to {MAX_SEATS_PER_REQUEST} seats.",
                [{"field": "quantity", "message": f"1-{MAX_SEATS_PER_REQUEST}"}])
        layout = await self.catalog.layout(event_id)
        tier_key, tier_name = tier_id_for(layout, tier)
        longest = longest_block(layout, tier_key)
        where = f"tier {tier_name}" if tier_name else "this event"
        if quantity > longest:
            raise errors.ValidationFailed(
                f"No row in {where} has {quantity} seats side by side (at most {longest}).",
                [{"field": "quantity", "message": f"at most {longest} together"}])
        res = await self._run(buyer, event_id, tier_key, quantity, hold_seconds, admission,
                              client, web)
        if not isinstance(res, BestResult):
            largest, free = res
            raise errors.ReservationConflict(
                f"No {quantity} seats are left together in {where}"
                + (f"; the largest block left is {largest}." if largest else "; it is full."),
                [{"field": "quantity", "message": f"no {quantity} adjacent free seats",
                  "largestBlock": largest, "freeSeats": free}])
        return self._held(ev, layout, tier_name, hold_seconds, res, web)

    async def _run(self, buyer: str, event_id: int, tier_key: str, quantity: int,
                   hold_seconds: int | None, admission: str | None,
                   client: str | None, web: bool) -> BestResult | tuple[int, int]:
        holds = self.reservations
        epoch = self.waiting.admission_epoch(buyer, event_id, admission)
        try:
            return await self.holds.best_available(
                event_id, buyer, self.catalog.tag_for(event_id, buyer), tier_key, quantity,
                hold_seconds, admission_epoch=epoch, limits=holds.limits(client), web=web)
        except errors.Unauthenticated:
            raise admission_error(admission) from None
        except errors.RateLimited as exc:
            holds.remember_limit(exc, event_id, buyer, client)
            raise

    @staticmethod
    def _held(ev: Event, layout: Layout, tier_name: str | None, hold_seconds: int | None,
              res: BestResult, web: bool) -> BestHold:
        by_id = layout.by_id()
        secs = ev.web_hold_s if web else \
            clamp_hold_seconds(hold_seconds, ev.hold_default_s, ev.hold_min_s, ev.hold_max_s)
        return BestHold(event_id=int(ev.id or 0), tier=tier_name,
                        seats=[by_id[s] for s in res.seat_ids], hold_seconds=secs,
                        expires_at=ms_to_dt(res.expires_at_ms), version=res.version)

    async def _hold_accessible(self, buyer: str, event_id: int, companions: int,
                               hold_seconds: int | None, admission: str | None,
                               client: str | None, web: bool) -> BestHold:
        """A wheelchair space and `companions` companion seats side by side, in one atomic
        script (the 'wc' index: services/catalog.py). Asking for one is saying one needs it,
        so the organiser's hold-back of wheelchair spaces does not apply."""
        ev = await self.catalog.public_event(event_id)
        self.reservations.screened(event_id, buyer, client)
        layout = await self.catalog.layout(event_id)
        most = accessible_companions_max(layout)
        if most < 0:
            raise errors.ValidationFailed(
                "This event has no wheelchair spaces.",
                [{"field": "wheelchair", "message": "no wheelchair spaces"}])
        if companions > most:
            raise errors.ValidationFailed(
                f"A wheelchair space here has at most {most} companion seats beside it.",
                [{"field": "companions", "message": f"at most {most}"}])
        res = await self._run(buyer, event_id, ACCESSIBLE_TIER, companions + 1, hold_seconds,
                              admission, client, web)
        if not isinstance(res, BestResult):
            raise errors.ReservationConflict(
                "No wheelchair space with that many companion seats beside it is free.",
                [{"field": "companions", "message": "none free", "largestBlock": res[0],
                  "freeSeats": res[1]}])
        return self._held(ev, layout, None, hold_seconds, res, web)

    @staticmethod
    def public(h: BestHold, trace_id: str) -> dict[str, Any]:
        return {
            "eventId": h.event_id, "tier": h.tier, "seatIds": h.seat_ids,
            "seats": [{"id": s.id, "label": s.label, "section": s.section, "r": s.r, "c": s.c,
                       "tier": s.tier_name, "price": s.price} for s in h.seats],
            "holdSeconds": h.hold_seconds, "expiresAt": iso(h.expires_at), "traceId": trace_id,
        }
