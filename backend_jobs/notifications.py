"""The notifications consumer: turns order events into email-ready messages. They are stored
and written to the log by default; with SMTP_URL set, a message for a buyer who left an
address on My tickets is queued (`pending`) and sent by `backend_jobs/mailer.py`, outside the
consumer's transaction. A confirmation lists the ticket codes."""

from __future__ import annotations

import structlog
from sqlalchemy import select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from ticketing_app.db.models import BuyerContact, Notification, OrderItem, Ticket
from ticketing_app.domain.events import Envelope, EventType
from ticketing_app.domain.seats import format_money
from ticketing_app.settings import get_settings

log = structlog.get_logger(__name__)

TEMPLATES: dict[str, tuple[str, str]] = {
    EventType.ORDER_CONFIRMED: (
        "Your tickets for order #{orderId}",
        "Thank you! Order #{orderId} is paid: {seats} seat(s), {amount}. "
        "Your tickets are under My tickets.",
    ),
    EventType.ORDER_CANCELLED: (
        "Order #{orderId} was cancelled",
        "Order #{orderId} was cancelled ({reason}). The seats were released and you were not "
        "charged.",
    ),
    EventType.PAYMENT_REFUNDED: (
        "Payment for order #{orderId} refunded",
        "Your payment for order #{orderId} arrived after the seats were released ({reason}); "
        "it has been refunded in full.",
    ),
    EventType.ORDER_REFUNDED: (
        "Refund for order #{orderId}",
        "{amount} has been refunded for order #{orderId} ({reason}).",
    ),
}


async def handle_notification(s: AsyncSession, env: Envelope) -> None:
    template = TEMPLATES.get(env.type)
    if template is None:
        return
    p = env.payload
    values = {
        "orderId": p.get("orderId"),
        "seats": len(p.get("seatIds") or []),
        "amount": format_money(int(p.get("amount") or p.get("total") or 0),
                               str(p.get("currency") or "KRW")),
        "reason": p.get("reason") or "no reason given",
    }
    subject, body = (t.format(**values) for t in template)
    buyer = str(p.get("buyerId") or "")
    if env.type == EventType.ORDER_CONFIRMED and p.get("orderId"):
        tickets = p.get("tickets")  # carried by the event since issue 14; older ones: look up
        rows = ([(t["label"], t["code"]) for t in tickets] if isinstance(tickets, list)
                else await _ticket_rows(s, int(p["orderId"])))
        body += _ticket_lines(rows)
    contacts: dict[str, BuyerContact | None] | None = s.info.get(CONTACTS)
    if contacts is not None and buyer in contacts:
        contact = contacts[buyer]
    else:
        contact = await s.get(BuyerContact, buyer) if buyer else None
    settings = get_settings()
    via = "pending" if (contact is not None and settings.smtp_url) else "log"
    s.add(Notification(event_uuid=env.eventId, order_id=p.get("orderId"), buyer_id=buyer,
                       kind=env.type, subject=subject, body=body, delivered_via=via,
                       recipient=contact.email if contact else None))
    log.info("notification", kind=env.type, order_id=p.get("orderId"), subject=subject,
             via=via)


CONTACTS = "tk_contacts"  # the session's info: buyer id -> contact (None: none), per batch


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
    return (f"\n\nYour tickets (show the QR code at the door; {url}):\n{lines}\n")
