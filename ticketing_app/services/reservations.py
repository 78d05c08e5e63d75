"""Holding seats: the hot path. One Lua script call per request, no database round trip."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ticketing_app.domain import errors
from ticketing_app.domain.events import ms_to_dt
from ticketing_app.domain.limits import ThrottleScreen
from ticketing_app.domain.seats import refusal_from_copy
from ticketing_app.holds.answers import ClaimLimits, claim_refusal
from ticketing_app.holds.mirror import SeatMirror
from ticketing_app.holds.store import HoldStore
from ticketing_app.observability import metrics
from ticketing_app.settings import Settings

if TYPE_CHECKING:
    from ticketing_app.services.access_codes import AccessCodeService
    from ticketing_app.services.catalog import CatalogService
    from ticketing_app.services.waiting_room import WaitingRoomService

MAX_SEATS_PER_REQUEST = 50


@dataclass(frozen=True)
class Hold:
    event_id: int
    seat_ids: list[int]
    hold_seconds: int
    expires_at: datetime
    version: int


@dataclass(frozen=True)
class MyHold:
    seat_id: int
    expires_at_ms: int
    in_order: bool


def check_seat_ids(seat_ids: Sequence[int]) -> list[int]:
    if not seat_ids:
        raise errors.ValidationFailed(
            "Choose at least one seat.", [{"field": "seatIds", "message": "must not be empty"}]
        )
    if len(seat_ids) > MAX_SEATS_PER_REQUEST:
        raise errors.ValidationFailed(
            f"At most {MAX_SEATS_PER_REQUEST} seats per request.",
            [{"field": "seatIds", "message": f"at most {MAX_SEATS_PER_REQUEST}"}],
        )
    return list(dict.fromkeys(int(s) for s in seat_ids))


def admission_error(token: str | None) -> errors.Unauthenticated:
    """The waiting room is on and the request's admission token is missing or not valid."""
    if not token:
        return errors.Unauthenticated(
            "The waiting room is on for this event: join the queue and use the admission "
            "token it gives you.",
            [{"field": "X-Admission-Token", "message": "missing"}])
    return errors.Unauthenticated(
        "Your admission token is not valid for this event any more (expired, reset, or "
        "issued to someone else); join the queue again.",
        [{"field": "X-Admission-Token", "message": "invalid or expired"}])


class ReservationService:
    """Holds through the hold store; `mirror` (this process's copy of the seat maps) refuses
    what it already settles, `waiting` checks admission tokens, `catalog` names holders and
    hides unpublished events, `settings` gives the abuse limits."""

    def __init__(self, holds: HoldStore, catalog: CatalogService,
                 waiting: WaitingRoomService, mirror: SeatMirror, settings: Settings,
                 access: AccessCodeService | None = None) -> None:
        self.holds = holds
        self.access = access
        self.catalog = catalog
        self.waiting = waiting
        self.mirror = mirror
        self.settings = settings
        self.screen = ThrottleScreen()

    def limits(self, client: str | None) -> ClaimLimits:
        """The abuse limits every new claim is counted against (REST, web app, best
        available): per buyer and per client address, per event and minute."""
        s = self.settings
        return ClaimLimits(s.rate_limit_holds_per_minute, client or "",
                           s.rate_limit_ip_per_minute)

    def screened(self, event_id: int, buyer: str, client: str | None) -> None:
        """429 from this process's memory while a script's over-the-limit verdict lasts."""
        now = time.monotonic()
        for scope, ident in (("holder", buyer), ("ip", client or "")):
            if ident and (hit := self.screen.refused(scope, f"{event_id}|{ident}", now)):
                metrics.RATE_LIMITED.labels(scope).inc()
                raise errors.RateLimited(
                    retry_after=hit[0], scope=scope,
                    message=f"Too many hold requests; the limit is {hit[1]} per minute.")

    def remember_limit(self, exc: errors.RateLimited, event_id: int, buyer: str,
                       client: str | None) -> None:
        metrics.RATE_LIMITED.labels(exc.scope or "holder").inc()
        ident = client if exc.scope == "ip" else buyer
        limit = self.limits(client).address_per_minute if exc.scope == "ip" else \
            self.limits(client).buyer_per_minute
        if ident:
            self.screen.remember(exc.scope, f"{event_id}|{ident}", exc.retry_after, limit,
                                 time.monotonic())

    def refusal_from_copy(self, event_id: int, seats: list[int], tag: str,
                          ) -> errors.DomainError | None:
        """The refusal this process's copy of the seat map already settles (a seat sold,
        blocked, or held by someone else), with the script's own answer; see README,
        "Refusals from the copy". A success only ever comes from the script."""
        copy = self.mirror.want(event_id)
        if copy is None or not copy.onsale or not copy.room_off:
            return None
        refusal = refusal_from_copy(copy.taken, seats, tag, int(time.time() * 1000))
        if refusal is None:
            return None
        metrics.HOLD_REFUSED_FROM_COPY.inc()
        exc = claim_refusal(refusal)
        if exc is None:
            raise ValueError(f"not a refusal: {refusal!r}")
        return exc

    async def check_wheelchair(self, event_id: int, seats: Sequence[int],
                               wheelchair: bool) -> None:
        """Wheelchair spaces go to buyers who say they need one (`wheelchair`) until the
        organiser opens them to everyone (domain/access.py); refused here, before Redis."""
        if wheelchair:
            return
        spaces, open_to_all = await self.catalog.wheelchair_gate(event_id)
        if open_to_all:
            return
        reserved = [s for s in seats if s in spaces]
        if reserved:
            raise errors.WheelchairSpaceReserved(
                "This is a wheelchair space, kept for buyers who need one until closer to "
                "the event. If you need it, say so (\"wheelchair\": true) and hold it again.",
                [{"seatId": s, "status": "WHEELCHAIR_SPACE"} for s in reserved])

    async def hold(
        self, buyer: str, event_id: int, seat_ids: Sequence[int], hold_seconds: int | None,
        admission: str | None = None, client: str | None = None, web: bool = False,
        access_code: str | None = None, wheelchair: bool = False,
    ) -> Hold:
        """As `attempt`, with the copy's refusal raised like any other."""
        outcome = await self.attempt(buyer, event_id, seat_ids, hold_seconds, admission,
                                     client, web, access_code, wheelchair)
        if isinstance(outcome, errors.DomainError):
            raise outcome
        return outcome

    async def attempt(
        self, buyer: str, event_id: int, seat_ids: Sequence[int], hold_seconds: int | None,
        admission: str | None = None, client: str | None = None, web: bool = False,
        access_code: str | None = None, wheelchair: bool = False,
    ) -> Hold | errors.DomainError:
        """The hold, or the refusal this process's copy of the seat map settles, returned
        rather than raised: a stampede's requests are nearly all such refusals, and the hot
        route answers them without unwinding the stack (every other refusal is raised).
        `admission`: the buyer's waiting-room token, required while the event's room is on;
        `client`: the buyer's address (the per-address limit); `web`: the web app's hold
        time (the event's `web_hold_s`) instead of `hold_seconds` in the API's bounds;
        `access_code`: a presale code, redeemed first (once per buyer; the original's requests
        send none); `wheelchair`: the buyer says they need a wheelchair space
        (domain/access.py)."""
        refused: errors.DomainError | None = None
        try:
            seats = check_seat_ids(seat_ids)
            if access_code and self.access is not None:
                await self.access.redeem(buyer, event_id, access_code)
            self.screened(event_id, buyer, client)
            tag = self.catalog.tag_for(event_id, buyer)
            refused = self.refusal_from_copy(event_id, seats, tag)
            if refused is None:
                # After the copy's refusals: a seat taken anyway costs no layout look-up.
                await self.check_wheelchair(event_id, seats, wheelchair)
                epoch = self.waiting.admission_epoch(buyer, event_id, admission)
                try:
                    res = await self.holds.hold(event_id, buyer, tag, seats, hold_seconds,
                                                   admission_epoch=epoch,
                                                   limits=self.limits(client), web=web)
                except errors.Unauthenticated:
                    raise admission_error(admission) from None
                except errors.RateLimited as exc:
                    self.remember_limit(exc, event_id, buyer, client)
                    raise
        except Exception as exc:
            hidden = await self.catalog.unpublished_as_not_found(event_id, exc)
            # Counted here, not in an entry point, so the REST API and the web UI both count.
            metrics.hold_attempt(getattr(hidden, "code", "ERROR"))
            if hidden is not exc:
                raise hidden from None
            raise
        if refused is not None:
            # The copy refuses only for an event on sale (so published): nothing to hide.
            metrics.hold_attempt(refused.code)
            return refused
        metrics.hold_attempt("OK")
        # No database on the hot path: the script clamped holdSeconds to the event's bounds.
        return Hold(event_id, seats, res.hold_seconds, ms_to_dt(res.expires_at_ms), res.version)

    async def extend(
        self, buyer: str, event_id: int, seat_ids: Sequence[int], seconds: int | None,
        web: bool = False,
    ) -> datetime:
        """`web`: a real extension (the event's web hold time added to what is left, up to
        its web total cap); the API's restarts the hold at `seconds` (the original's)."""
        await self.catalog.public_event(event_id)  # nobody extends a hold on a draft
        seats = check_seat_ids(seat_ids)
        return ms_to_dt(await self.holds.extend(event_id, buyer, seats, seconds, web=web))

    async def release(self, buyer: str, event_id: int, seat_ids: Sequence[int]) -> int:
        """A holder may still give back a live hold on an event unpublished meanwhile; any
        refusal for an unpublished event is its 404."""
        try:
            seats = check_seat_ids(seat_ids)
            return await self.holds.release(event_id, buyer, seats)
        except Exception as exc:
            hidden = await self.catalog.unpublished_as_not_found(event_id, exc)
            if hidden is not exc:
                raise hidden from None
            raise

    async def release_all_mine(self, buyer: str, event_id: int) -> int:
        """Empties the buyer's cart (holds only; seats in an order stay with the order)."""
        held = [h.seat_id for h in await self.my_holds(buyer, event_id) if not h.in_order]
        if not held:
            return 0
        return await self.holds.release(event_id, buyer, held, force=False)

    async def my_holds(self, buyer: str, event_id: int) -> list[MyHold]:
        seat_ids = await self.holds.my_seats(event_id, buyer)
        if not seat_ids:
            return []
        now_ms, states = await self.holds.seat_states(event_id, seat_ids)
        out = []
        for sid in seat_ids:
            st = states.get(sid)
            if st and st.code in ("H", "O") and st.buyer == buyer and st.expires_at_ms > now_ms:
                out.append(MyHold(sid, st.expires_at_ms, st.code == "O"))
        return sorted(out, key=lambda h: h.seat_id)
