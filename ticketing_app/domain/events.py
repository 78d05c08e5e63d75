"""Kafka message types and the one envelope every message uses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class EventType(StrEnum):
    ORDER_CREATED = "ORDER_CREATED"
    PAYMENT_SUCCESS = "PAYMENT_SUCCESS"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    ORDER_CONFIRMED = "ORDER_CONFIRMED"
    ORDER_CANCELLED = "ORDER_CANCELLED"
    ORDER_REFUNDED = "ORDER_REFUNDED"
    PAYMENT_REFUNDED = "PAYMENT_REFUNDED"
    EVENT_CANCELLED = "EVENT_CANCELLED"
    TICKET_CHECKED_IN = "TICKET_CHECKED_IN"
    TICKETS_RESENT = "TICKETS_RESENT"  # the box office mails an order's tickets again


class Envelope(BaseModel):
    """`eventId` is the consumers' de-duplication key; the Kafka key is the concert event id."""

    eventId: str = Field(default_factory=lambda: str(uuid.uuid4()))
    type: str
    aggregateId: str
    occurredAt: str = Field(default_factory=lambda: utcnow().isoformat())
    traceId: str = ""
    payload: dict[str, Any] = Field(default_factory=dict)


def utcnow() -> datetime:
    return datetime.now(UTC)


def ms_to_dt(ms: int) -> datetime:
    """Redis's clock (epoch milliseconds, as the Lua scripts answer) as a UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as the contract asks; naive datetimes are taken as UTC."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")
