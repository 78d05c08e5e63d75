"""The live sales dashboard's numbers for one event.

Seat counts come from Redis (the live truth of holds); orders, revenue, payments and check-ins
from the Kafka-fed sales projection (so the dashboard also shows how far the pipeline is
behind); the outbox backlog from the database; holds per minute from a per-minute counter that
the hold script keeps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from ticketing_app.db.engine import Database
from ticketing_app.db.models import OutboxEvent, SalesProjection, SalesTimeline, Ticket
from ticketing_app.domain.seats import format_money
from ticketing_app.holds.store import HoldStore
from ticketing_app.services.catalog import CatalogService

TIMELINE_MINUTES = 120
MIN_CHART_MINUTES = 10  # the chart spans at least this many minutes


@dataclass
class EventStats:
    event_id: int
    seats_total: int = 0
    seats_available: int = 0
    seats_held: int = 0
    seats_sold: int = 0
    seats_blocked: int = 0
    orders_awaiting: int = 0
    orders_confirmed: int = 0
    orders_cancelled: int = 0
    orders_refunded: int = 0
    revenue: int = 0
    revenue_text: str = ""
    refunded_text: str = ""
    payments_success: int = 0
    payments_failed: int = 0
    payment_success_rate: str = "-"
    holds_last_minute: int = 0
    holds_per_minute_avg: float = 0.0
    outbox_pending: int = 0
    outbox_lag_s: float = 0.0
    checkins: int = 0
    tickets: int = 0
    projection_at: str = ""
    timeline: list[dict[str, Any]] = field(default_factory=list)
    # Per price tier: seats sold of its capacity, live (the layout and Redis's seat states).
    tiers: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class DashboardService:
    """Seat counts from the event's state (`catalog`), the hold rate from `holds`, the rest
    from the database (`db`: the projection, the outbox, tickets)."""

    def __init__(self, db: Database, holds: HoldStore, catalog: CatalogService) -> None:
        self.db = db
        self.holds = holds
        self.catalog = catalog

    async def stats(self, event_id: int) -> EventStats:
        ev = await self.catalog.get_event(event_id)
        layout = await self.catalog.layout(event_id)
        snap = await self.catalog.snapshot(event_id)
        st = EventStats(event_id=event_id, seats_total=len(layout.seats))
        tiers: dict[str, list[int]] = {}  # sold, capacity (in the layout's tier order)
        for seat in layout.seats:
            code = snap.public_code(seat.id)
            tier = tiers.setdefault(seat.tier_name, [0, 0])
            tier[1] += 1
            if code == "H":
                st.seats_held += 1
            elif code == "S":
                st.seats_sold += 1
                tier[0] += 1
            elif code == "B":
                st.seats_blocked += 1
            else:
                st.seats_available += 1
        per_minute = await self.holds.holds_per_minute(event_id, 60)
        st.holds_last_minute = per_minute[-1][1] if per_minute else 0
        complete = per_minute[:-1]
        st.holds_per_minute_avg = round(sum(n for _, n in complete[-10:]) / 10, 1) \
            if complete else 0.0
        async with self.db.read_sessions() as s:
            p = await s.get(SalesProjection, event_id)
            n_pending, oldest = (await s.execute(
                select(func.count(), func.min(col(OutboxEvent.created_at)))
                .where(col(OutboxEvent.status) == "PENDING"))).one()
            st.tickets = int((await s.execute(select(func.count()).select_from(Ticket).where(
                col(Ticket.event_id) == event_id, col(Ticket.status).in_(["VALID", "CHECKED_IN"])))
            ).scalar_one())
            rows = list((await s.execute(select(SalesTimeline).where(
                col(SalesTimeline.event_id) == event_id).order_by(col(SalesTimeline.minute).desc())
                .limit(TIMELINE_MINUTES))).scalars())
        if p is not None:
            st.orders_confirmed = p.orders_confirmed
            st.orders_cancelled = p.orders_cancelled
            st.orders_refunded = p.orders_refunded
            st.orders_awaiting = max(0, p.orders_created - p.orders_confirmed
                                     - p.orders_cancelled - p.orders_refunded)
            st.revenue = p.revenue
            st.payments_success, st.payments_failed = p.payments_success, p.payments_failed
            tried = p.payments_success + p.payments_failed
            if tried:
                st.payment_success_rate = f"{100 * p.payments_success / tried:.1f}%"
            st.checkins = p.checkins
            st.refunded_text = format_money(p.refunded_amount, ev.currency)
            if p.last_event_at is not None:
                st.projection_at = _aware(p.last_event_at).strftime("%H:%M:%S UTC")
        st.revenue_text = format_money(st.revenue, ev.currency)
        st.outbox_pending = int(n_pending)
        if oldest is not None:
            st.outbox_lag_s = round(max(0.0, (datetime.now(UTC) - _aware(oldest))
                                        .total_seconds()), 1)
        st.tiers = [{"tier": name, "sold": sold, "capacity": cap,
                     "percent": f"{100 * sold / cap:.0f}%" if cap else "-"}
                    for name, (sold, cap) in tiers.items()]
        st.timeline = timeline_minutes(list(reversed(rows)))
        return st


def timeline_minutes(rows: list[SalesTimeline], at_least: int = MIN_CHART_MINUTES
                     ) -> list[dict[str, Any]]:
    """One entry per minute from the first sale to the last, quiet minutes as zero, and
    at least `at_least` minutes (earlier ones padded): a single minute of sales is one
    bar among ten, not one bar across the chart."""
    if not rows:
        return []
    by_minute = {_aware(r.minute).replace(second=0, microsecond=0): r for r in rows}
    last = max(by_minute)
    first = min(min(by_minute), last - timedelta(minutes=at_least - 1))
    first = max(first, last - timedelta(minutes=TIMELINE_MINUTES - 1))
    out: list[dict[str, Any]] = []
    cumulative = 0
    minute = first
    while minute <= last:
        row = by_minute.get(minute)
        sold = row.seats_sold if row else 0
        cumulative += sold
        out.append({"minute": minute.strftime("%H:%M"), "sold": sold, "total": cumulative,
                    "revenue": row.revenue if row else 0})
        minute += timedelta(minutes=1)
    return out


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
