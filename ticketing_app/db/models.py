"""Database tables (SQLModel). Request and response schemas live in `api/schemas.py`.

Times are timezone-aware UTC (SQLModel's UTCDateTime). Money is integer minor units with a currency.
Every table here is created by Alembic migrations, never by `create_all` in production.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ticketing_app.domain.sale_settings import EventSales


def now_utc() -> datetime:
    return datetime.now(UTC)


class Venue(SQLModel, table=True):
    __tablename__ = "venues"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    address: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=now_utc)
    # IANA zone (migration 0007): every time of its events is shown in it.
    time_zone: str = Field(default="Asia/Seoul", max_length=64)


class VenueSeat(SQLModel, table=True):
    """A venue's layout: where seats are. Events copy it into their own `seats`."""

    __tablename__ = "venue_seats"
    __table_args__ = (sa.UniqueConstraint("venue_id", "section", "r", "c"),)
    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venues.id", index=True)
    section: str = Field(default="Main", max_length=60)
    r: int
    c: int
    # wheelchair, companion, restricted, aisle; comma separated (domain/access.py, 0008)
    features: str = Field(default="", max_length=60)
    # Where the seat is drawn, in seat widths (migration 0012; the venue editor's offsets,
    # curves and moves); None = at its grid place (x = c, y = r).
    x: float | None = Field(default=None)
    y: float | None = Field(default=None)


class Event(EventSales, SQLModel, table=True):
    """An event; its sale settings (hold bounds, limits, the waiting room) are declared once,
    in `domain/sale_settings.py`, and are columns here by inheritance."""

    __tablename__ = "events"
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=4000)
    starts_at: datetime
    venue_id: int | None = Field(default=None, foreign_key="venues.id")
    status: str = Field(default="DRAFT", max_length=20)  # DRAFT, ON_SALE, CLOSED, CANCELLED
    currency: str = Field(default="KRW", max_length=3)
    created_at: datetime = Field(default_factory=now_utc)
    updated_at: datetime = Field(default_factory=now_utc)
    # Why it was cancelled, as buyers are told (migration 0008).
    cancel_reason: str = Field(default="", max_length=300)
    # Presale (migration 0008): while ON_SALE and before `public_sale_starts_at`, only buyers
    # who entered an access code may claim seats, and only from `presale_starts_at` on.
    # Both empty: open to everyone (the original behaviour).
    presale_starts_at: datetime | None = Field(default=None)
    public_sale_starts_at: datetime | None = Field(default=None)


class PriceTier(SQLModel, table=True):
    __tablename__ = "price_tiers"
    __table_args__ = (sa.UniqueConstraint("event_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id", index=True)
    name: str = Field(max_length=60)
    price: int = Field(ge=0)
    color: str = Field(default="#10b981", max_length=20)


class Seat(SQLModel, table=True):
    """One sellable seat of one event. `order_id` is the sale's fence: it is set by a guarded
    UPDATE (`WHERE order_id IS NULL`), so two orders can never both own the seat."""

    __tablename__ = "seats"
    __table_args__ = (sa.UniqueConstraint("event_id", "section", "r", "c"),)
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id", index=True)
    section: str = Field(default="Main", max_length=60)
    r: int
    c: int
    features: str = Field(default="", max_length=60)  # copied from the venue's seat
    x: float | None = Field(default=None)  # drawn at, copied from the venue's seat (0012)
    y: float | None = Field(default=None)
    tier_id: int | None = Field(default=None, foreign_key="price_tiers.id")
    price: int = Field(ge=0)
    status: str = Field(default="AVAILABLE", max_length=20)  # AVAILABLE, SOLD, BLOCKED
    order_id: int | None = Field(default=None, index=True)
    version: int = 0


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (sa.Index("ix_orders_kind", "event_id", "kind"),)  # 0010_comps
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id", index=True)
    buyer_id: str = Field(max_length=80, index=True)
    status: str = Field(default="CREATED", max_length=20, index=True)
    total: int = 0
    currency: str = Field(default="KRW", max_length=3)
    idempotency_key: str = Field(max_length=200)
    lock_token: str = Field(max_length=64, unique=True)
    trace_id: str = Field(default="", max_length=64)
    payment_deadline: datetime
    created_at: datetime = Field(default_factory=now_utc)
    updated_at: datetime = Field(default_factory=now_utc)
    confirmed_at: datetime | None = None
    closed_at: datetime | None = None
    close_reason: str = Field(default="", max_length=200)
    # Why it was cancelled (domain.orders.CancelKind; migration 0005): a late payment may
    # re-confirm only an order whose window lapsed. '' for open orders and older rows.
    cancel_kind: str = Field(default="", max_length=20)
    # Who bought (asked at checkout in the web app; optional on the REST API) and the
    # language of their mail (migration 0008). Erased PERSONAL_DATA_RETENTION_DAYS after the
    # event, or when the buyer asks (services/personal_data.py).
    buyer_name: str | None = Field(default=None, max_length=100)
    buyer_email: str | None = Field(default=None, max_length=254, index=True)
    locale: str = Field(default="", max_length=8)
    # What sort of order (domain.orders.OrderKind; migration 0008): a buyer's SALE, a COMP
    # issued free by the box office, or a named RESERVATION the box office holds; reports
    # count them apart. A comp's or reservation's customer is named here.
    kind: str = Field(default="SALE", max_length=20)
    customer_name: str = Field(default="", max_length=200)
    customer_email: str = Field(default="", max_length=254)


class OrderItem(SQLModel, table=True):
    __tablename__ = "order_items"
    __table_args__ = (sa.UniqueConstraint("order_id", "seat_id"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    seat_id: int = Field(foreign_key="seats.id", index=True)
    price: int
    currency: str = Field(max_length=3)
    tier_name: str = Field(default="", max_length=60)
    seat_label: str = Field(default="", max_length=120)
    refunded: bool = False


class Payment(SQLModel, table=True):
    __tablename__ = "payments"
    __table_args__ = (sa.Index("uq_payments_one_pending", "order_id", unique=True,  # 0013
                               postgresql_where=sa.text("status = 'PENDING'"),
                               sqlite_where=sa.text("status = 'PENDING'")),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    status: str = Field(default="PENDING", max_length=20, index=True)
    amount: int
    currency: str = Field(max_length=3)
    provider_ref: str = Field(default="", max_length=100)
    failure_reason: str = Field(default="", max_length=200)
    trace_id: str = Field(default="", max_length=64)
    traceparent: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=now_utc)
    updated_at: datetime = Field(default_factory=now_utc)


class OutboxEvent(SQLModel, table=True):
    """Written in the same transaction as the change it announces; the relay publishes it."""

    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    event_uuid: str = Field(max_length=36, unique=True)
    event_type: str = Field(max_length=40)
    aggregate_id: str = Field(max_length=40)
    partition_key: str = Field(max_length=40)
    payload: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    trace_id: str = Field(default="", max_length=64)
    traceparent: str = Field(default="", max_length=100)
    status: str = Field(default="PENDING", max_length=10, index=True)  # PENDING, SENT, FAILED
    attempts: int = 0
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=now_utc)
    sent_at: datetime | None = None


class ProcessedEvent(SQLModel, table=True):
    """A consumer's record of what it already applied, written with its own changes."""

    __tablename__ = "processed_events"
    consumer: str = Field(primary_key=True, max_length=60)
    event_uuid: str = Field(primary_key=True, max_length=36)
    processed_at: datetime = Field(default_factory=now_utc)


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_records"
    __table_args__ = (sa.UniqueConstraint("buyer_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    buyer_id: str = Field(max_length=80)
    key: str = Field(max_length=200)
    method: str = Field(max_length=10)
    path: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status: str = Field(default="IN_PROGRESS", max_length=20)  # IN_PROGRESS, COMPLETED
    lock_token: str = Field(max_length=64)
    response_code: int | None = None
    response_body: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON))
    created_at: datetime = Field(default_factory=now_utc)
    locked_at: datetime = Field(default_factory=now_utc)


class SalesProjection(SQLModel, table=True):
    """Kafka-fed read model for the dashboard; rebuildable from the outbox."""

    __tablename__ = "sales_projection"
    event_id: int = Field(primary_key=True)
    orders_created: int = 0
    orders_confirmed: int = 0
    orders_cancelled: int = 0
    orders_refunded: int = 0
    seats_sold: int = 0
    seats_refunded: int = 0
    revenue: int = 0
    refunded_amount: int = 0
    payments_success: int = 0
    payments_failed: int = 0
    checkins: int = 0
    last_event_at: datetime | None = None
    updated_at: datetime = Field(default_factory=now_utc)


class SalesTimeline(SQLModel, table=True):
    """Seats sold and revenue per minute, for the dashboard's chart."""

    __tablename__ = "sales_timeline"
    event_id: int = Field(primary_key=True)
    minute: datetime = Field(primary_key=True)
    seats_sold: int = 0
    revenue: int = 0


class Notification(SQLModel, table=True):
    """An email-ready message produced by the notifications consumer."""

    __tablename__ = "notifications"
    id: int | None = Field(default=None, primary_key=True)
    event_uuid: str = Field(max_length=36, unique=True)
    order_id: int | None = Field(default=None, index=True)
    buyer_id: str = Field(default="", max_length=80)
    kind: str = Field(max_length=40)
    subject: str = Field(max_length=200)
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    delivered_via: str = Field(default="log", max_length=20)  # log, pending, sending, smtp...
    created_at: datetime = Field(default_factory=now_utc)
    recipient: str | None = Field(default=None, max_length=254)  # migration 0003_admin


class AdminUser(SQLModel, table=True):
    __tablename__ = "admin_users"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, unique=True)
    password_hash: str = Field(max_length=300)
    is_active: bool = True
    created_at: datetime = Field(default_factory=now_utc)
    # What the account may do (domain.roles.Role; migration 0008): manager or door staff.
    role: str = Field(default="manager", max_length=20)


class AdminSession(SQLModel, table=True):
    __tablename__ = "admin_sessions"
    id: str = Field(primary_key=True, max_length=64)  # sha256 of the session secret
    user_id: int = Field(foreign_key="admin_users.id", index=True)
    created_at: datetime = Field(default_factory=now_utc)
    expires_at: datetime


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(max_length=80)
    action: str = Field(max_length=80)
    target: str = Field(default="", max_length=120)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON))
    created_at: datetime = Field(default_factory=now_utc, index=True)


class Ticket(SQLModel, table=True):
    """One per sold seat; `code` is signed so a forged one is rejected offline too."""

    __tablename__ = "tickets"
    __table_args__ = (sa.Index("ix_tickets_status", "event_id", "status"),)  # 0003_admin
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    order_item_id: int = Field(foreign_key="order_items.id", unique=True)
    event_id: int = Field(foreign_key="events.id", index=True)
    seat_id: int = Field(foreign_key="seats.id")
    code: str = Field(max_length=120, unique=True)
    status: str = Field(default="VALID", max_length=20)  # VALID, CHECKED_IN, REFUNDED
    checked_in_at: datetime | None = None
    checked_in_by: str = Field(default="", max_length=80)
    checked_in_gate: str = Field(default="", max_length=80)
    created_at: datetime = Field(default_factory=now_utc)


class BackgroundJobRecord(SQLModel, table=True):
    """Long jobs an operator watches (event cancellation refunds)."""

    __tablename__ = "background_jobs"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    target: str = Field(max_length=80)
    status: str = Field(default="RUNNING", max_length=20)
    total: int = 0
    done: int = 0
    message: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=now_utc)
    updated_at: datetime = Field(default_factory=now_utc)


class BuyerContact(SQLModel, table=True):
    """Where a buyer wants their tickets mailed (set on My tickets); migration 0003_admin."""

    __tablename__ = "buyer_contacts"
    buyer_id: str = Field(primary_key=True, max_length=80)
    email: str = Field(max_length=254, index=True)  # the index: migration 0008
    updated_at: datetime = Field(default_factory=now_utc)
    # The buyer's name, optional (migration 0008): the box office finds orders by it.
    name: str | None = Field(default=None, max_length=200)


class AccessCode(SQLModel, table=True):
    """A presale code of one event (migration 0008): `used` counts the buyers who redeemed
    it, raised by a guarded UPDATE (`used < max_uses`), so the limit holds under any race."""

    __tablename__ = "access_codes"
    __table_args__ = (sa.UniqueConstraint("event_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id", index=True)
    code: str = Field(max_length=40)
    max_uses: int
    used: int = 0
    created_at: datetime = Field(default_factory=now_utc)


class AccessCodeUse(SQLModel, table=True):
    """A buyer who redeemed a code of the event: one per buyer and event, so a buyer who
    enters the code again uses nothing more."""

    __tablename__ = "access_code_uses"
    __table_args__ = (sa.UniqueConstraint("event_id", "buyer_id"),)
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id")
    code_id: int = Field(foreign_key="access_codes.id", index=True)
    buyer_id: str = Field(max_length=80)
    created_at: datetime = Field(default_factory=now_utc)


class WaitlistEntry(SQLModel, table=True):
    """A buyer waiting for a sold-out event (migration 0008). WAITING -> OFFERED (a freed seat
    held for them until `offer_expires_at`, the link mailed) -> CLAIMED, or EXPIRED (the offer
    passes to the next in line)."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (sa.UniqueConstraint("event_id", "email"),
                      sa.Index("ix_waitlist_queue", "event_id", "status", "id"))
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id")
    email: str = Field(max_length=254)
    status: str = Field(default="WAITING", max_length=20)
    offer_token: str = Field(default="", max_length=64)
    seat_ids: str = Field(default="", max_length=400)
    offer_expires_at: datetime | None = None
    created_at: datetime = Field(default_factory=now_utc)
    updated_at: datetime = Field(default_factory=now_utc)
