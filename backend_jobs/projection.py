"""The sales projection: counts and revenue per event, and sales per minute for the chart.

Fed by Kafka; rebuildable from the outbox (`ticketing replay --rebuild`), since the outbox
table, not the broker, is the durable record.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from ticketing_app.db.models import ProcessedEvent, SalesProjection, SalesTimeline, now_utc
from ticketing_app.domain.events import Envelope, EventType

CONSUMER_NAME = "sales-projection"


async def _row(s: AsyncSession, event_id: int) -> SalesProjection:
    row = await s.get(SalesProjection, event_id)
    if row is None:
        row = SalesProjection(event_id=event_id)
        s.add(row)
    return row


def _minute(occurred_at: str) -> datetime:
    try:
        dt = datetime.fromisoformat(occurred_at.replace("Z", "+00:00"))
    except ValueError:
        dt = datetime.now(UTC)
    return dt.astimezone(UTC).replace(second=0, microsecond=0)


async def handle_projection(s: AsyncSession, env: Envelope) -> None:
    p = env.payload
    event_id = p.get("eventId")
    if event_id is None:
        return
    row = await _row(s, int(event_id))
    seats = len(p.get("seatIds") or [])
    total = int(p.get("total") or 0)
    t = env.type
    if t == EventType.ORDER_CREATED:
        row.orders_created += 1
    elif t == EventType.ORDER_CONFIRMED:
        row.orders_confirmed += 1
        row.seats_sold += seats
        row.revenue += total
        if p.get("late"):
            row.orders_cancelled = max(0, row.orders_cancelled - 1)
        minute = _minute(env.occurredAt)
        bucket = await s.get(SalesTimeline, (int(event_id), minute))
        if bucket is None:
            bucket = SalesTimeline(event_id=int(event_id), minute=minute)
            s.add(bucket)
        bucket.seats_sold += seats
        bucket.revenue += total
    elif t == EventType.ORDER_CANCELLED:
        row.orders_cancelled += 1
    elif t == EventType.ORDER_REFUNDED:
        refunded = len(p.get("refundedSeatIds") or [])
        row.seats_sold -= refunded
        row.seats_refunded += refunded
        row.revenue -= int(p.get("amount") or 0)
        row.refunded_amount += int(p.get("amount") or 0)
        if p.get("full"):
            row.orders_refunded += 1
            row.orders_confirmed -= 1
    elif t == EventType.PAYMENT_SUCCESS:
        row.payments_success += 1
    elif t == EventType.PAYMENT_FAILED:
        row.payments_failed += 1
    elif t == EventType.TICKET_CHECKED_IN:
        row.checkins += 1
    row.last_event_at = datetime.fromisoformat(env.occurredAt.replace("Z", "+00:00"))
    row.updated_at = now_utc()


async def reset_projection(s: AsyncSession) -> None:
    await s.execute(delete(SalesProjection))
    await s.execute(delete(SalesTimeline))
    await s.execute(delete(ProcessedEvent).where(col(ProcessedEvent.consumer) == CONSUMER_NAME))
