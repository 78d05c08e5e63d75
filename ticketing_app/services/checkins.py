"""Check-in at the door: a ticket is admitted once.

The fence is one guarded UPDATE (`... WHERE code = :code AND status = 'VALID'`): of two gates
scanning the same ticket at the same instant, the database lets exactly one row change (SQLite
serialises writers; PostgreSQL makes the second UPDATE wait for the first and then find the row
no longer VALID). The loser is told who admitted the ticket, at which gate and when. The
admission and its TICKET_CHECKED_IN event commit together (outbox), so the dashboard counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import col

from ticketing_app.db.engine import Database
from ticketing_app.db.models import Event, OrderItem, Seat, Ticket, now_utc
from ticketing_app.domain.checkins import (
    EventCancelled,
    TicketAlreadyUsed,
    TicketInvalid,
    TicketNotFound,
    TicketRefunded,
    TicketWrongEvent,
)
from ticketing_app.domain.events import EventType, iso
from ticketing_app.domain.seats import seat_label
from ticketing_app.domain.tickets import parse_ticket_code
from ticketing_app.services.uow import UnitOfWork
from ticketing_app.settings import Settings

GATE_MAX = 80


@dataclass(frozen=True)
class Admission:
    ticket_id: int
    order_id: int
    event_id: int
    event_title: str
    seat: str
    checked_in_at: datetime
    checked_in_by: str
    gate: str

    def public(self) -> dict[str, Any]:
        return {"result": "ADMITTED", "ticketId": self.ticket_id, "orderId": self.order_id,
                "eventId": self.event_id, "eventTitle": self.event_title, "seat": self.seat,
                "checkedInAt": iso(self.checked_in_at), "checkedInBy": self.checked_in_by,
                "gate": self.gate}


class CheckinService:
    """Tickets in the database (`db`); `settings` for the ticket codes' secret."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    async def check_in(self, actor: str, code: str, gate: str = "",
                       event_id: int | None = None) -> Admission:
        code = (code or "").strip()
        gate = (gate or "").strip()[:GATE_MAX]
        parsed = parse_ticket_code(self.settings.secret_key, code) if len(code) <= 120 \
            else None
        if parsed is None:
            raise TicketInvalid("This is not a genuine ticket code (forged, altered or "
                                "mistyped).")
        code_event, _ = parsed
        if event_id is not None and code_event != event_id:
            raise TicketWrongEvent(f"This ticket is for event #{code_event}, not this one.",
                                   [{"eventId": code_event}])
        now = now_utc()
        async with UnitOfWork(self.db) as uow:
            s = uow.session
            ev = await s.get(Event, code_event)
            if ev is not None and ev.status == "CANCELLED":
                raise EventCancelled("This event is cancelled; its tickets are refunded.")
            admitted = await s.execute(
                update(Ticket).where(col(Ticket.code) == code, col(Ticket.status) == "VALID")
                .values(status="CHECKED_IN", checked_in_at=now, checked_in_by=actor[:80],
                        checked_in_gate=gate))
            if admitted.rowcount == 1:  # type: ignore[attr-defined]
                # The seat's name as the buyer's order has it (row letters without gaps).
                t, seat, sold_as = (await s.execute(
                    select(Ticket, Seat, col(OrderItem.seat_label))
                    .join(Seat, col(Seat.id) == col(Ticket.seat_id))
                    .outerjoin(OrderItem, (col(OrderItem.order_id) == col(Ticket.order_id)) &
                               (col(OrderItem.seat_id) == col(Ticket.seat_id)))
                    .where(col(Ticket.code) == code))).one()
                uow.emit(EventType.TICKET_CHECKED_IN, int(t.id or 0), t.event_id, {
                    "eventId": t.event_id, "orderId": t.order_id, "ticketId": t.id,
                    "seatIds": [t.seat_id], "gate": gate, "checkedInBy": actor,
                    "eventType": EventType.TICKET_CHECKED_IN.value,
                })
                await uow.commit()
                return Admission(int(t.id or 0), t.order_id, t.event_id,
                                 ev.title if ev else "",
                                 sold_as or seat_label(seat.section, seat.r, seat.c),
                                 now, actor, gate)
        await self._refuse(code)
        raise AssertionError("unreachable")

    async def _refuse(self, code: str) -> None:
        async with self.db.read_sessions() as s:
            t = (await s.execute(select(Ticket).where(col(Ticket.code) == code))
                 ).scalar_one_or_none()
        if t is None:
            raise TicketNotFound("The code is genuine but no ticket has it (another "
                                 "installation's ticket?).")
        if t.status == "CHECKED_IN":
            when = t.checked_in_at.strftime("%H:%M:%S UTC on %d %b") if t.checked_in_at else "?"
            gate = f" at gate {t.checked_in_gate}" if t.checked_in_gate else ""
            raise TicketAlreadyUsed(
                f"Already admitted {when} by {t.checked_in_by or '?'}{gate}.",
                [{"ticketId": t.id, "checkedInAt": iso(t.checked_in_at),
                  "checkedInBy": t.checked_in_by, "gate": t.checked_in_gate}])
        if t.status in ("REFUNDED", "CANCELLED"):
            raise TicketRefunded(f"This ticket was {t.status.lower()}; do not admit.",
                                 [{"ticketId": t.id, "status": t.status}])
        raise TicketNotFound(f"This ticket is {t.status}.")

    async def counts(self, event_id: int) -> dict[str, int]:
        """Tickets by status (the door's own numbers; the dashboard's come from Kafka)."""
        async with self.db.read_sessions() as s:
            rows = (await s.execute(select(col(Ticket.status), func.count()).where(
                col(Ticket.event_id) == event_id).group_by(col(Ticket.status)))).all()
        return {status: int(n) for status, n in rows}
