"""The waitlist of a sold-out event: buyers leave an e-mail address; when a seat is freed (a
refund, a cancelled or lapsed order, a released reservation or hold) the next in line is
offered it: the seat is held for them (claim_office.lua, in the same atomic step as every
buyer's hold) for `WAITLIST_OFFER_S`, and a link is mailed. Opening the link hands the hold
to the browser that opened it (handover.lua), which then checks out as usual. An offer not
taken in time lapses with its hold, and the seat goes to the next in line.

`offer_freed_seats` runs every second in the worker (`backend_jobs/maintenance.py`) and is
safe to run twice at once: a seat is offered only by a successful claim, and an entry only
by a guarded UPDATE (`status = 'WAITING'`).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from ticketing_app.db.engine import Database
from ticketing_app.db.models import Notification, WaitlistEntry, now_utc
from ticketing_app.domain import errors
from ticketing_app.domain.identity import holder_tag
from ticketing_app.holds.store import HoldStore
from ticketing_app.i18n import _, format_event_time, use_locale
from ticketing_app.services.catalog import CatalogService
from ticketing_app.services.comps import EMAIL_RE
from ticketing_app.services.uow import UnitOfWork
from ticketing_app.settings import Settings

WAITING, OFFERED, CLAIMED, EXPIRED = "WAITING", "OFFERED", "CLAIMED", "EXPIRED"


def offer_holder(token: str) -> str:
    """The holder id of an offer's seat until its link is opened."""
    return f"wl:{token[:24]}"


def aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Claimed:
    event_id: int
    seat_ids: list[int]


class WaitlistService:
    """Entries in `db`; offers held through `holds`; free seats and the event from
    `catalog`; `settings` for the offer's lifetime, the link's site and the mail switch."""

    def __init__(self, db: Database, holds: HoldStore, catalog: CatalogService,
                 settings: Settings) -> None:
        self.db = db
        self.holds = holds
        self.catalog = catalog
        self.settings = settings

    async def free_seats(self, event_id: int) -> list[int]:
        layout = await self.catalog.layout(event_id)
        snap = await self.catalog.snapshot(event_id)
        return [s.id for s in layout.seats if snap.public_code(s.id) == "A"]

    async def join(self, event_id: int, email: str) -> WaitlistEntry:
        """Joins the line of a sold-out event (once per address: joining again keeps the
        place). 409 while seats are still on sale."""
        email = (email or "").strip()
        if not EMAIL_RE.match(email):
            raise errors.ValidationFailed("Enter your e-mail address.",
                                          [{"field": "email", "message": "invalid"}])
        ev = await self.catalog.public_event(event_id)
        if ev.status != "ON_SALE":
            raise errors.SalesClosed()
        if await self.free_seats(event_id):
            raise errors.Conflict("Seats are still available: choose one on the seat map.",
                                  [{"field": "eventId", "message": "not sold out"}])
        try:
            async with UnitOfWork(self.db) as uow:
                entry = WaitlistEntry(event_id=event_id, email=email.lower())
                uow.session.add(entry)
                await uow.session.flush()
                await uow.commit()
            return entry
        except IntegrityError:
            async with self.db.read_sessions() as s:
                return (await s.execute(select(WaitlistEntry).where(
                    col(WaitlistEntry.event_id) == event_id,
                    col(WaitlistEntry.email) == email.lower()))).scalar_one()

    async def position(self, entry: WaitlistEntry) -> int:
        async with self.db.read_sessions() as s:
            return int((await s.execute(select(func.count()).select_from(WaitlistEntry).where(
                col(WaitlistEntry.event_id) == entry.event_id,
                col(WaitlistEntry.status) == WAITING,
                col(WaitlistEntry.id) <= entry.id))).scalar_one())

    async def entries(self, event_id: int) -> list[WaitlistEntry]:
        async with self.db.read_sessions() as s:
            return list((await s.execute(select(WaitlistEntry).where(
                col(WaitlistEntry.event_id) == event_id).order_by(
                col(WaitlistEntry.id)))).scalars())

    def offer_url(self, entry: WaitlistEntry) -> str:
        return (f"{self.settings.public_url.rstrip('/')}/event/{entry.event_id}/offer/"
                f"{entry.offer_token}")

    # ---- offers ------------------------------------------------------------------------
    async def offer_freed_seats(self) -> int:
        """Lapsed offers end; then each free seat of an event with people waiting is offered
        to the next in line. Returns the offers made."""
        now = datetime.now(UTC)
        async with UnitOfWork(self.db) as uow:
            await uow.session.execute(
                update(WaitlistEntry).where(col(WaitlistEntry.status) == OFFERED,
                                            col(WaitlistEntry.offer_expires_at) < now)
                .values(status=EXPIRED, updated_at=now))
            await uow.commit()
        async with self.db.read_sessions() as s:
            events = list((await s.execute(select(col(WaitlistEntry.event_id)).where(
                col(WaitlistEntry.status) == WAITING).distinct())).scalars())
        made = 0
        for event_id in events:
            made += await self._offer_event(int(event_id))
        return made

    async def _offer_event(self, event_id: int) -> int:
        ev = await self.catalog.get_event(event_id, fresh=True)
        if ev.status != "ON_SALE":
            return 0
        free = await self.free_seats(event_id)
        if not free:
            return 0
        async with self.db.read_sessions() as s:
            waiting = list((await s.execute(select(WaitlistEntry).where(
                col(WaitlistEntry.event_id) == event_id, col(WaitlistEntry.status) == WAITING)
                .order_by(col(WaitlistEntry.id)).limit(len(free)))).scalars())
        made = 0
        for entry, seat in zip(waiting, free, strict=False):
            if await self._offer(entry, seat, ev.title, await self.catalog.time_zone(ev)):
                made += 1
        return made

    async def _offer(self, entry: WaitlistEntry, seat: int, title: str, tz: str) -> bool:
        token = secrets.token_urlsafe(24)
        holder = offer_holder(token)
        until = datetime.now(UTC) + timedelta(seconds=self.settings.waitlist_offer_s)
        try:
            await self.holds.claim_for_office(
                entry.event_id, holder, uuid.uuid4().hex, int(until.timestamp() * 1000),
                holder_tag(self.settings.secret_key, entry.event_id, holder), [seat],
                as_hold=True)
        except errors.DomainError:
            return False  # a buyer took it first: it is not free any more
        entry.offer_token = token
        async with UnitOfWork(self.db) as uow:
            res = await uow.session.execute(
                update(WaitlistEntry).where(col(WaitlistEntry.id) == entry.id,
                                            col(WaitlistEntry.status) == WAITING)
                .values(status=OFFERED, offer_token=token, seat_ids=str(seat),
                        offer_expires_at=until, updated_at=now_utc()))
            if res.rowcount == 1:  # type: ignore[attr-defined]
                uow.session.add(self._mail(entry, title, until, tz))
                await uow.commit()
                return True
        await self.holds.release(entry.event_id, holder, [seat], force=True)
        return False

    def _mail(self, entry: WaitlistEntry, title: str, until: datetime, tz: str
              ) -> Notification:
        """The offer's mail, written with the offer (the mailer sends it, as every
        notification; with SMTP off it is logged)."""
        with use_locale(self.settings.default_locale):
            subject = _("A seat for {title} is waiting for you", title=title)
            body = _("A seat for {title} was freed and is held for you until {until}. "
                     "Open this link to take it, then pay as usual:\n\n{url}\n\n"
                     "If you do not, it goes to the next person on the waitlist.",
                     title=title, until=format_event_time(until, tz), url=self.offer_url(entry))
        via = "pending" if self.settings.smtp_url else "log"
        return Notification(event_uuid=str(uuid.uuid4()), buyer_id=f"waitlist:{entry.id}",
                            kind="WAITLIST_OFFER", subject=subject, body=body,
                            delivered_via=via, recipient=entry.email)

    async def claim(self, token: str, buyer: str) -> Claimed:
        """The offer's link was opened: its held seat becomes this buyer's hold."""
        async with self.db.read_sessions() as s:
            entry = (await s.execute(select(WaitlistEntry).where(
                col(WaitlistEntry.offer_token) == token))).scalar_one_or_none() if token \
                else None
        if entry is None:
            raise errors.NotFound("This offer does not exist.")
        seats = [int(x) for x in entry.seat_ids.split(",") if x]
        if entry.status == CLAIMED:
            if set(await self.holds.my_seats(entry.event_id, buyer)) >= set(seats):
                return Claimed(entry.event_id, seats)  # the same browser again
            raise errors.Conflict("This offer has been taken.")
        if entry.status != OFFERED or (entry.offer_expires_at is not None and
                                       aware(entry.offer_expires_at) <= datetime.now(UTC)):
            raise errors.ReservationExpired("This offer has lapsed; the seat went to the next "
                                            "person on the waitlist.")
        tag = holder_tag(self.settings.secret_key, entry.event_id, buyer)
        if not await self.holds.handover(entry.event_id, offer_holder(entry.offer_token),
                                         buyer, tag, seats):
            raise errors.ReservationExpired("This offer has lapsed.")
        async with UnitOfWork(self.db) as uow:
            await uow.session.execute(update(WaitlistEntry).where(
                col(WaitlistEntry.id) == entry.id).values(status=CLAIMED, updated_at=now_utc()))
            await uow.commit()
        return Claimed(entry.event_id, seats)
