"""A buyer's way back to an order without the browser they bought with, and their personal
data: the signed link (mailed with the confirmation, or again by "find my order"), the
look-up by e-mail and reference, the export and erasure a buyer may ask for (PIPA, GDPR), and
the retention job that erases names and addresses some time after the event.

The look-up never says whether an address is known: every answer is the same, and the mail
(the only difference) is written after the answer, off the request's path.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from redis.asyncio import Redis
from sqlalchemy import delete, select, update
from sqlmodel import col

from ticketing_app.db.engine import Database
from ticketing_app.db.models import (
    BuyerContact,
    Event,
    Notification,
    Order,
    OrderItem,
    now_utc,
)
from ticketing_app.domain import errors
from ticketing_app.domain.buyers import (
    LinkCheck,
    issue_order_link,
    normalise_email,
    parse_reference,
    verify_order_link,
)
from ticketing_app.domain.events import iso
from ticketing_app.domain.orders import OrderStatus
from ticketing_app.i18n import _, format_event_time, format_money, use_locale
from ticketing_app.services.admin_base import record_audit
from ticketing_app.services.buyer_tickets import BuyerTicket, BuyerTicketService
from ticketing_app.services.catalog import CatalogService
from ticketing_app.services.rate_limits import count_attempt
from ticketing_app.services.uow import UnitOfWork
from ticketing_app.settings import Settings

log = structlog.get_logger(__name__)

ORDER_LINK_PATH = "/order/"
LOOKUP_WINDOW_S = 3600
# Orders a look-up may mail a link for (an abandoned, unpaid one has no tickets).
FINDABLE = (OrderStatus.CONFIRMED.value, OrderStatus.REFUNDED.value,
            OrderStatus.CANCELLED.value)
MAIL_KIND_LINK = "ORDER_LINK"


def email_digest(email: str) -> str:
    """What the audit log keeps of an address: enough to match requests, not the address."""
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class OrderAccess:
    """An order as its signed link shows it."""

    order_id: int
    status: str
    event_id: int
    event_title: str
    event_status: str
    when: str
    venue: str
    total: str
    buyer_name: str
    buyer_email: str
    tickets: list[BuyerTicket]
    expires_at_s: int


class OrderAccessService:
    """Links and look-ups over the database (`db`), the event's time zone and venue from
    `catalog`, tickets from `tickets`; look-ups are counted in `redis`; `settings` for the
    secret key, the link's lifetime, the public URL, the limits and the retention."""

    def __init__(self, db: Database, redis: Redis, catalog: CatalogService,
                 tickets: BuyerTicketService, settings: Settings) -> None:
        self.db = db
        self.redis = redis
        self.catalog = catalog
        self.tickets = tickets
        self.settings = settings
        self._mailing: set[asyncio.Task[None]] = set()

    # ---- links ----------------------------------------------------------------------------
    def link_token(self, order_id: int, now_s: float | None = None) -> str:
        ttl = self.settings.order_link_ttl_days * 86400
        expires = int((time.time() if now_s is None else now_s) + ttl)
        return issue_order_link(self.settings.secret_key, order_id, expires)

    def link_url(self, order_id: int) -> str:
        return self.settings.public_url.rstrip("/") + ORDER_LINK_PATH + \
            self.link_token(order_id)

    def verify(self, token: str) -> int:
        """The order a link opens: 401 for a link that is not ours or was changed, 410 for an
        expired one."""
        res = verify_order_link(self.settings.secret_key, token, time.time())
        if res.check is LinkCheck.INVALID:
            raise errors.Unauthenticated("This link is not valid. Use the link from your "
                                         "e-mail as it is, or ask for a new one.")
        if res.check is LinkCheck.EXPIRED:
            raise errors.LinkExpired()
        return res.order_id

    async def open(self, token: str) -> OrderAccess:
        order_id = self.verify(token)
        async with self.db.read_sessions() as s:
            order = await s.get(Order, order_id)
            ev = await s.get(Event, order.event_id) if order is not None else None
        if order is None or ev is None:
            raise errors.OrderNotFound(f"Order {order_id} not found.")
        res = verify_order_link(self.settings.secret_key, token, time.time())
        return OrderAccess(
            order_id=order_id, status=order.status, event_id=int(ev.id or 0),
            event_title=ev.title, event_status=ev.status,
            when=format_event_time(ev.starts_at, await self.catalog.time_zone(ev)),
            venue=await self.catalog.venue_name(ev),
            total=format_money(order.total, order.currency),
            buyer_name=order.buyer_name or "", buyer_email=order.buyer_email or "",
            tickets=await self.tickets.for_order(order_id), expires_at_s=res.expires_at_s)

    # ---- find my order ----------------------------------------------------------------------
    async def lookup(self, email: str, reference: str, client: str | None) -> None:
        """Mails the order's link when `email` and `reference` name one of its orders; says
        nothing either way (the caller shows one answer for every case). Counted per client
        address and per address asked about, ORDER_LOOKUP_PER_HOUR each (429 past it)."""
        limit = self.settings.order_lookup_per_hour
        message = "Too many look-ups; try again later."
        await count_attempt(self.redis, "lookup-ip", client or "", limit, message,
                            LOOKUP_WINDOW_S)
        address = normalise_email(email)
        if not address or len(address) > 254:
            raise errors.ValidationFailed("Enter the e-mail address you bought with.",
                                          [{"field": "email", "message": "required"}])
        order_id = parse_reference(reference)
        if order_id is None:
            raise errors.ValidationFailed("Enter the order reference from your confirmation, "
                                          "like Order #12.",
                                          [{"field": "reference", "message": "not a reference"}])
        await count_attempt(self.redis, "lookup-mail", email_digest(address), limit, message,
                            LOOKUP_WINDOW_S)
        async with self.db.read_sessions() as s:
            found = (await s.execute(select(col(Order.id)).where(
                col(Order.id) == order_id, col(Order.buyer_email) == address,
                col(Order.status).in_(FINDABLE)))).scalar_one_or_none()
        if found is not None:
            task = asyncio.ensure_future(self._mail_link(int(found)))
            self._mailing.add(task)
            task.add_done_callback(self._mailing.discard)

    async def _mail_link(self, order_id: int) -> None:
        try:
            await self.queue_mail(order_id, MAIL_KIND_LINK)
        except Exception as exc:  # logged; the buyer can ask again
            log.warning("order_link_mail_failed", order_id=order_id, error=str(exc)[:200])

    async def drain(self) -> None:
        """Waits for look-up mails still being written (tests, shutdown)."""
        while self._mailing:
            await asyncio.gather(*list(self._mailing), return_exceptions=True)

    async def queue_mail(self, order_id: int, kind: str) -> None:
        """A mail with the order's link, in the buyer's language, for the mailer."""
        async with self.db.read_sessions() as s:
            order = await s.get(Order, order_id)
            ev = await s.get(Event, order.event_id) if order is not None else None
        if order is None or ev is None or not order.buyer_email:
            return
        subject, body = link_mail(order, ev, await self.catalog.time_zone(ev),
                                  await self.catalog.venue_name(ev), self.link_url(order_id),
                                  order.locale or self.settings.default_locale)
        async with UnitOfWork(self.db) as uow:
            uow.session.add(Notification(
                event_uuid=str(uuid.uuid4()), order_id=order_id, buyer_id=order.buyer_id,
                kind=kind, subject=subject, body=body, recipient=order.buyer_email,
                delivered_via="pending" if self.settings.smtp_url else "log"))
            await uow.commit()

    # ---- personal data ------------------------------------------------------------------------
    async def _address_of(self, token: str) -> tuple[int, str]:
        order_id = self.verify(token)
        async with self.db.read_sessions() as s:
            order = await s.get(Order, order_id)
        if order is None:
            raise errors.OrderNotFound(f"Order {order_id} not found.")
        return order_id, order.buyer_email or ""

    async def export(self, token: str) -> dict[str, Any]:
        """Everything kept about the person the link was mailed to: their orders (name,
        address, seats, amounts), with the address they left on My tickets. Audited."""
        order_id, address = await self._address_of(token)
        async with self.db.read_sessions() as s:
            q = select(Order, Event).join(Event, col(Event.id) == col(Order.event_id))
            q = q.where(col(Order.buyer_email) == address) if address else \
                q.where(col(Order.id) == order_id)
            rows = (await s.execute(q.order_by(col(Order.id)))).all()
            ids = [int(o.id or 0) for o, _e in rows]
            items = list((await s.execute(select(OrderItem).where(
                col(OrderItem.order_id).in_(ids)))).scalars()) if ids else []
            contacts = list((await s.execute(select(BuyerContact).where(
                col(BuyerContact.email) == address))).scalars()) if address else []
        seats: dict[int, list[dict[str, Any]]] = {}
        for i in items:
            seats.setdefault(i.order_id, []).append(
                {"seat": i.seat_label, "tier": i.tier_name, "price": i.price,
                 "currency": i.currency, "refunded": i.refunded})
        out = {
            "exportedAt": iso(now_utc()),
            "email": address or None,
            "orders": [{
                "orderId": o.id, "status": o.status, "name": o.buyer_name,
                "email": o.buyer_email, "language": o.locale or None,
                "createdAt": iso(o.created_at), "total": o.total, "currency": o.currency,
                "event": {"id": e.id, "title": e.title, "startsAt": iso(e.starts_at)},
                "seats": seats.get(int(o.id or 0), []),
            } for o, e in rows],
            "notificationAddresses": [{"buyerId": c.buyer_id, "email": c.email}
                                      for c in contacts],
        }
        async with UnitOfWork(self.db) as uow:
            record_audit(uow, f"buyer:order:{order_id}", "personal_data.export",
                         f"order:{order_id}", email=email_digest(address) if address else "",
                         orders=len(rows))
            await uow.commit()
        return out

    async def erase(self, token: str) -> int:
        """Erases the name and address on every order placed with the link's address, its
        My-tickets address and the address on its mails; tickets stay valid. Audited.
        Returns how many orders were changed."""
        order_id, address = await self._address_of(token)
        async with UnitOfWork(self.db) as uow:
            s = uow.session
            if address:
                res = await s.execute(update(Order).where(col(Order.buyer_email) == address)
                                      .values(buyer_name=None, buyer_email=None))
                await s.execute(delete(BuyerContact).where(col(BuyerContact.email) == address))
                await s.execute(update(Notification).where(
                    col(Notification.recipient) == address).values(recipient=None))
            else:
                res = await s.execute(update(Order).where(col(Order.id) == order_id)
                                      .values(buyer_name=None))
            changed = int(res.rowcount or 0)  # type: ignore[attr-defined]
            record_audit(uow, f"buyer:order:{order_id}", "personal_data.erase",
                         f"order:{order_id}", email=email_digest(address) if address else "",
                         orders=changed)
            await uow.commit()
        log.info("personal_data_erased", order_id=order_id, orders=changed)
        return changed

    async def erase_expired(self, now: datetime | None = None) -> int:
        """The retention job: names and addresses of orders whose event started more than
        PERSONAL_DATA_RETENTION_DAYS ago are erased (0 days = kept). Idempotent."""
        days = self.settings.personal_data_retention_days
        if days <= 0:
            return 0
        cutoff = (now or now_utc()) - timedelta(days=days)
        async with UnitOfWork(self.db) as uow:
            s = uow.session
            old_events = select(col(Event.id)).where(col(Event.starts_at) < cutoff)
            stale = select(col(Order.id)).where(
                col(Order.event_id).in_(old_events),
                (col(Order.buyer_email).is_not(None)) | (col(Order.buyer_name).is_not(None)))
            ids = [int(i) for i in (await s.execute(stale)).scalars()]
            if not ids:
                return 0
            await s.execute(update(Order).where(col(Order.id).in_(ids))
                            .values(buyer_name=None, buyer_email=None))
            await s.execute(update(Notification).where(col(Notification.order_id).in_(ids))
                            .values(recipient=None))
            record_audit(uow, "system", "personal_data.retention", "orders",
                         orders=len(ids), retentionDays=days)
            await uow.commit()
        log.info("personal_data_retention", orders=len(ids), days=days)
        return len(ids)


def link_mail(order: Order, ev: Event, tz: str, venue: str, url: str, locale: str
              ) -> tuple[str, str]:
    """(subject, body) of the mail that carries an order's link, in the buyer's language."""
    with use_locale(locale):
        when = format_event_time(ev.starts_at, tz)
        subject = _("Your order #{id}: {title}", id=order.id, title=ev.title)
        lines = [
            _("Here is the link to order #{id}. It opens your tickets on any device, "
              "without signing in:", id=order.id),
            "", url, "",
            _("Event: {title}", title=ev.title),
            _("Date: {when}", when=when),
        ]
        if venue:
            lines.append(_("Venue: {venue}", venue=venue))
        lines += ["", _("The link is personal: anyone who has it can see these tickets. "
                        "It also lets you download or delete the personal data we keep.")]
        return subject, "\n".join(lines) + "\n"
