"""E-tickets: one per sold seat, written in the confirming transaction. The signed code itself
is a pure rule (`domain/tickets.py`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from ticketing_app.db.models import OrderItem, Ticket
from ticketing_app.db.statements import INSERT_TICKETS, row_of
from ticketing_app.domain.tickets import make_ticket_code


def new_tickets(secret: str, event_id: int, order_id: int, items: Sequence[OrderItem]
                ) -> list[Ticket]:
    """One ticket per item, not written yet."""
    return [
        Ticket(order_id=order_id, order_item_id=int(item.id or 0), event_id=event_id,
               seat_id=item.seat_id, code=make_ticket_code(secret, event_id, item.seat_id))
        for item in items
    ]


async def issue_tickets(
    session: AsyncSession, secret: str, event_id: int, order_id: int, items: Sequence[OrderItem]
) -> list[Ticket]:
    """One ticket per item, written in the caller's transaction (one Core insert)."""
    tickets = new_tickets(secret, event_id, order_id, items)
    if tickets:
        await session.execute(INSERT_TICKETS, [row_of(t) for t in tickets])
    return tickets
