"""The notifications consumer: turns order events into email-ready messages. They are stored
and written to the log by default; SMTP delivery is a setting (SMTP_URL)."""

from __future__ import annotations

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from ticketing_app.db.models import Notification
from ticketing_app.domain.events import Envelope, EventType
from ticketing_app.domain.seats import format_money

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
    s.add(Notification(event_uuid=env.eventId, order_id=p.get("orderId"),
                       buyer_id=str(p.get("buyerId") or ""), kind=env.type, subject=subject,
                       body=body))
    log.info("notification", kind=env.type, order_id=p.get("orderId"), subject=subject)
