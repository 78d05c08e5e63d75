"""Presale and access codes: an event opens to the holders of a code at one time
(`presale_starts_at`) and to everyone at another (`public_sale_starts_at`).

A buyer redeems a code once per event: the redemption is counted by a guarded UPDATE
(`used < max_uses`, so the limit holds however many buyers race for the last use) and
recorded per buyer (a buyer entering it again uses nothing more); then the buyer is added to
the event's presale buyers in Redis, which the hold scripts consult atomically with every
claim (`open_claim` in holds/lua/_lib.lua).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from ticketing_app.db.engine import Database
from ticketing_app.db.models import AccessCode, AccessCodeUse, AuditLog, Event, now_utc
from ticketing_app.domain import errors
from ticketing_app.holds.keys import EventKeys
from ticketing_app.holds.store import HoldStore
from ticketing_app.services.catalog import CatalogService
from ticketing_app.services.uow import UnitOfWork

CODE_RE = re.compile(r"^[A-Z0-9-]{4,40}$")
MAX_USES = 1_000_000


def normalise(code: str) -> str:
    """Codes are typed by people: case and surrounding spaces do not matter."""
    return (code or "").strip().upper()


def _audit(uow: UnitOfWork, actor: str, action: str, target: str, **details: Any) -> None:
    """The audit row, in the change's transaction (as services/admin_base.py's; not imported
    from there: the hold path imports this module, and admin_base imports the orders)."""
    uow.session.add(AuditLog(actor=actor, action=action, target=target, details=details))


def _aware(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class AccessCodeService:
    """Codes and redemptions in `db`, the presale buyers in Redis (`holds`' client), the
    event's window pushed to Redis through `catalog`."""

    def __init__(self, db: Database, holds: HoldStore, catalog: CatalogService) -> None:
        self.db = db
        self.holds = holds
        self.catalog = catalog

    # ---- the organiser's side ------------------------------------------------------------
    async def set_window(self, actor: str, event_id: int, presale_starts_at: datetime | None,
                         public_sale_starts_at: datetime | None) -> Event:
        """Both empty: no presale. With a public start, the presale start must come first."""
        pre, pub = _aware(presale_starts_at), _aware(public_sale_starts_at)
        if pre is not None and pub is None:
            raise errors.ValidationFailed(
                "A presale needs the time the public sale starts.",
                [{"field": "publicSaleStartsAt", "message": "required with a presale start"}])
        if pre is not None and pub is not None and pre >= pub:
            raise errors.ValidationFailed(
                "The presale must start before the public sale.",
                [{"field": "presaleStartsAt", "message": "must be before publicSaleStartsAt"}])
        async with UnitOfWork(self.db) as uow:
            ev = (await uow.session.execute(select(Event).where(
                col(Event.id) == event_id))).scalar_one_or_none()
            if ev is None:
                raise errors.EventNotFound(f"Event {event_id} not found.")
            ev.presale_starts_at, ev.public_sale_starts_at = pre, pub
            ev.updated_at = now_utc()
            _audit(uow, actor, "presale.window", f"event:{event_id}",
                   presaleStartsAt=pre.isoformat() if pre else None,
                   publicSaleStartsAt=pub.isoformat() if pub else None)
            await uow.commit()
        await self.catalog.refresh_event_state(event_id)
        return await self.catalog.get_event(event_id, fresh=True)

    async def create_code(self, actor: str, event_id: int, code: str | None,
                          max_uses: int) -> AccessCode:
        """A code (given, or generated when empty) that `max_uses` buyers may redeem."""
        value = normalise(code or "") or secrets.token_hex(4).upper()
        problems = []
        if not CODE_RE.match(value):
            problems.append({"field": "code",
                             "message": "4-40 letters, digits or dashes"})
        if not 1 <= max_uses <= MAX_USES:
            problems.append({"field": "maxUses", "message": f"between 1 and {MAX_USES}"})
        if problems:
            raise errors.ValidationFailed("Invalid access code.", problems)
        await self.catalog.get_event(event_id, fresh=True)
        try:
            async with UnitOfWork(self.db) as uow:
                row = AccessCode(event_id=event_id, code=value, max_uses=max_uses)
                uow.session.add(row)
                await uow.session.flush()
                _audit(uow, actor, "access_code.create", f"event:{event_id}",
                       code=value, maxUses=max_uses)
                await uow.commit()
        except IntegrityError:
            raise errors.Conflict("This event already has that code.",
                                  [{"field": "code", "message": "exists"}]) from None
        return row

    async def codes(self, event_id: int) -> list[AccessCode]:
        async with self.db.read_sessions() as s:
            return list((await s.execute(select(AccessCode).where(
                col(AccessCode.event_id) == event_id).order_by(col(AccessCode.id)))).scalars())

    # ---- the buyer's side ----------------------------------------------------------------
    async def redeem(self, buyer: str, event_id: int, code: str) -> None:
        """The buyer may claim seats in the presale from now on. One use of the code per
        buyer and event, counted atomically; 422 for an unknown or used-up code."""
        value = normalise(code)
        async with self.db.read_sessions() as s:
            row = (await s.execute(select(AccessCode).where(
                col(AccessCode.event_id) == event_id,
                col(AccessCode.code) == value))).scalar_one_or_none()
            used = (await s.execute(select(AccessCodeUse).where(
                col(AccessCodeUse.event_id) == event_id,
                col(AccessCodeUse.buyer_id) == buyer))).scalar_one_or_none()
        if used is not None:  # redeemed before (this code or another): nothing more to count
            await self._open_to(event_id, buyer, used.code_id)
            return
        if row is None or not value:
            raise errors.ValidationFailed("This access code is not valid for this event.",
                                          [{"field": "accessCode", "message": "unknown"}])
        try:
            async with UnitOfWork(self.db) as uow:
                res = await uow.session.execute(
                    update(AccessCode).where(col(AccessCode.id) == row.id,
                                             col(AccessCode.used) < col(AccessCode.max_uses))
                    .values(used=AccessCode.used + 1))
                if res.rowcount != 1:  # type: ignore[attr-defined]
                    raise errors.ValidationFailed(
                        "This access code has been used up.",
                        [{"field": "accessCode", "message": "used up"}])
                uow.session.add(AccessCodeUse(event_id=event_id, code_id=int(row.id or 0),
                                              buyer_id=buyer))
                await uow.commit()
        except IntegrityError:
            pass  # the same buyer's other request redeemed it at the same moment
        await self._open_to(event_id, buyer, int(row.id or 0))

    async def _open_to(self, event_id: int, buyer: str, code_id: int) -> None:
        await self.holds.redis.hset(EventKeys(event_id).presale_buyers,  # type: ignore[misc]
                                    buyer, str(code_id))

    async def is_open_to(self, event_id: int, buyer: str) -> bool:
        return bool(await self.holds.redis.hexists(  # type: ignore[misc]
            EventKeys(event_id).presale_buyers, buyer))


def in_presale(ev: Event, now: datetime | None = None) -> bool:
    """The event is on sale, but only to code holders right now (or not yet to anyone)."""
    pub = _aware(ev.public_sale_starts_at)
    return ev.status == "ON_SALE" and pub is not None and (now or datetime.now(UTC)) < pub
