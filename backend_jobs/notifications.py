"""The notifications consumer: turns order events into email-ready messages, in the buyer's
language. They are stored and written to the log by default; with SMTP_URL set, a message for
a buyer who gave an address (at checkout, or on My tickets) is queued (`pending`) and sent by
`backend_jobs/mailer.py`, outside the consumer's transaction. A confirmation names the event
(date in the venue's zone, venue), lists the ticket codes and carries the signed link that
opens the tickets on any device."""

from __future__ import annotations

import time
from typing import Any

import structlog
from sqlalchemy import select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from ticketing_app.db.models import (
    BuyerContact,
    Event,
    Notification,
    Order,
    OrderItem,
    Ticket,
    Venue,
)
from ticketing_app.domain.buyers import issue_order_link
from ticketing_app.domain.events import Envelope, EventType
from ticketing_app.i18n import N_, _, format_event_time, format_money, use_locale
from ticketing_app.services.order_access import ORDER_LINK_PATH
from ticketing_app.settings import get_settings

log = structlog.get_logger(__name__)

TEMPLATES: dict[str, tuple[str, str]] = {
    EventType.ORDER_CONFIRMED: (
        N_("Your tickets for order #{orderId}"),
        N_("Thank you! Order #{orderId} is paid: {seats} seat(s), {amount}. "
           "Your tickets are under My tickets."),
    ),
    EventType.TICKETS_RESENT: (
        N_("Your tickets for order #{orderId}"),
        N_("As asked, here are the tickets of order #{orderId} again: {seats} seat(s). "
           "They are also under My tickets."),
    ),
    EventType.ORDER_CANCELLED: (
        N_("Order #{orderId} was cancelled"),
        N_("Order #{orderId} was cancelled ({reason}). The seats were released and you were "
           "not charged."),
    ),
    EventType.PAYMENT_REFUNDED: (
        N_("Payment for order #{orderId} refunded"),
        N_("Your payment for order #{orderId} arrived after the seats were released "
           "({reason}); it has been refunded in full."),
    ),
    EventType.ORDER_REFUNDED: (
        N_("Refund for order #{orderId}"),
        N_("{amount} has been refunded for order #{orderId} ({reason})."),
    ),
}


# Orders the box office made (orders.kind): their confirmation says what they are.
KIND_TEMPLATES: dict[tuple[str, str], tuple[str, str]] = {
    (EventType.ORDER_CONFIRMED, "COMP"): (
        N_("Your complimentary tickets (order #{orderId})"),
        N_("You have been given {seats} ticket(s), order #{orderId}. Enjoy the event!"),
    ),
    (EventType.ORDER_CONFIRMED, "RESERVATION"): (
        N_("Your tickets for order #{orderId}"),
        N_("Your reservation is confirmed as order #{orderId}: {seats} seat(s), {amount}."),
    ),
}


async def handle_notification(s: AsyncSession, env: Envelope) -> None:
    template = KIND_TEMPLATES.get((env.type, str(env.payload.get("kind") or ""))) or \
        TEMPLATES.get(env.type)
    if template is None:
        return
    p = env.payload
    buyer = str(p.get("buyerId") or "")
    settings = get_settings()
    order = await s.get(Order, int(p["orderId"])) if p.get("orderId") else None
    # The buyer's language (chosen at checkout), else the installation's.
    with use_locale((order.locale if order is not None else "") or settings.default_locale):
        values = {
            "orderId": p.get("orderId"),
            "seats": len(p.get("seatIds") or []),
            "amount": format_money(int(p.get("amount") or p.get("total") or 0),
                                   str(p.get("currency") or "KRW")),
            # The reason is the system's record (English), quoted as it is.
            "reason": p.get("reason") or _("no reason given"),
        }
        subject, body = (_(t, **values) for t in template)
        if env.type in (EventType.ORDER_CONFIRMED, EventType.TICKETS_RESENT) \
                and order is not None:
            body += await _confirmation_lines(s, order, p.get("tickets"))
    contacts: dict[str, BuyerContact | None] | None = s.info.get(CONTACTS)
    if contacts is not None and buyer in contacts:
        contact = contacts[buyer]
    else:
        contact = await s.get(BuyerContact, buyer) if buyer else None
    # The address given at checkout first; else the one left on My tickets.
    recipient = (order.buyer_email if order is not None else None) or \
        (contact.email if contact is not None else None)
    via = "pending" if (recipient and settings.smtp_url) else "log"
    s.add(Notification(event_uuid=env.eventId, order_id=p.get("orderId"), buyer_id=buyer,
                       kind=env.type, subject=subject, body=body, delivered_via=via,
                       recipient=recipient))
    log.info("notification", kind=env.type, order_id=p.get("orderId"), subject=subject,
             via=via)


async def _confirmation_lines(s: AsyncSession, order: Order, tickets: Any = None) -> str:
    """The event (name, date in the venue's zone, venue), the link that opens the tickets on
    any device, then the ticket codes (`tickets`: the (label, code) list ORDER_CONFIRMED
    carries since issue 14; older events and resends look them up)."""
    settings = get_settings()
    ev = await s.get(Event, order.event_id)
    lines = [""]
    if ev is not None:
        venue = await s.get(Venue, ev.venue_id) if ev.venue_id else None
        tz = venue.time_zone if venue is not None else settings.default_time_zone
        lines += [_("Event: {title}", title=ev.title),
                  _("Date: {when}", when=format_event_time(ev.starts_at, tz))]
        if venue is not None:
            lines.append(_("Venue: {venue}", venue=venue.name))
    if order.buyer_email:
        token = issue_order_link(settings.secret_key, int(order.id or 0),
                                 int(time.time()) + settings.order_link_ttl_days * 86400)
        lines += ["", _("Open your tickets on any device (no sign-in needed):"),
                  settings.public_url.rstrip("/") + ORDER_LINK_PATH + token]
    rows = ([(t["label"], t["code"]) for t in tickets] if isinstance(tickets, list)
            else await _ticket_rows(s, int(order.id or 0)))
    return "\n".join(lines) + "\n" + _ticket_lines(rows)


CONTACTS = "tk_contacts"  # the session's info: buyer id -> contact (None: none), per batch


async def prefetch(s: AsyncSession, envs: list[Envelope]) -> None:
    """What the batch's messages read, in two round trips instead of up to four per message:
    their orders with each order's event and venue (into the session, where the handler's
    `s.get` finds them), and their buyers' addresses."""
    mine = [e for e in envs if e.type in TEMPLATES]
    orders = {int(e.payload["orderId"]) for e in mine if e.payload.get("orderId")}
    if orders:
        await s.execute(select(Order, Event, Venue)
                        .join(Event, col(Event.id) == col(Order.event_id))
                        .outerjoin(Venue, col(Venue.id) == col(Event.venue_id))
                        .where(col(Order.id).in_(orders)))
    await prefetch_contacts(s, mine)


async def prefetch_contacts(s: AsyncSession, envs: list[Envelope]) -> None:
    """The addresses of every buyer the batch's messages go to, in one read."""
    buyers = {str(e.payload.get("buyerId") or "") for e in envs if e.type in TEMPLATES} - {""}
    if not buyers:
        return
    found = {c.buyer_id: c for c in (await s.execute(
        select(BuyerContact).where(col(BuyerContact.buyer_id).in_(buyers)))).scalars()}
    s.info[CONTACTS] = {b: found.get(b) for b in buyers}


async def _ticket_rows(s: AsyncSession, order_id: int) -> list[tuple[str, str]]:
    rows = (await s.execute(select(col(OrderItem.seat_label), col(Ticket.code)).join(
        Ticket, col(Ticket.order_item_id) == col(OrderItem.id)).where(
        col(Ticket.order_id) == order_id).order_by(col(Ticket.id)))).all()
    return [(str(label), str(code)) for label, code in rows]


def _ticket_lines(rows: list[tuple[str, str]]) -> str:
    if not rows:
        return ""
    lines = "\n".join(f"  {label}: {code}" for label, code in rows)
    url = get_settings().public_url.rstrip("/") + "/my-tickets"
    return "\n\n" + _("Your tickets (show the QR code at the door; {url}):", url=url) + \
        f"\n{lines}\n"
