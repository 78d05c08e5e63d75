"""E-tickets: one per sold seat, with a code that is signed so a forged or altered code is
rejected without looking anything up."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from ticketing_app.db.models import OrderItem, Ticket
from ticketing_app.db.statements import INSERT_TICKETS, row_of
from ticketing_app.domain.identity import sign_value

CODE_PREFIX = "TK1"


def make_ticket_code(secret: str, event_id: int, seat_id: int) -> str:
    nonce = secrets.token_urlsafe(9).replace("-", "x").replace("_", "y")
    body = f"{event_id}-{seat_id}-{nonce}"
    return f"{CODE_PREFIX}.{body}.{sign_value(secret, 'ticket', body, 22)}"


def parse_ticket_code(secret: str, code: str) -> tuple[int, int] | None:
    """(event id, seat id) for a genuine code, else None."""
    import hmac

    parts = code.strip().split(".")
    if len(parts) != 3 or parts[0] != CODE_PREFIX:
        return None
    body, sig = parts[1], parts[2]
    if not hmac.compare_digest(sig, sign_value(secret, "ticket", body, 22)):
        return None
    try:
        event_id, seat_id, _ = body.split("-", 2)
        return int(event_id), int(seat_id)
    except ValueError:
        return None


async def issue_tickets(
    session: AsyncSession, secret: str, event_id: int, order_id: int, items: Sequence[OrderItem]
) -> list[Ticket]:
    """One ticket per item, written in the caller's transaction (one Core insert)."""
    tickets = [
        Ticket(order_id=order_id, order_item_id=int(item.id or 0), event_id=event_id,
               seat_id=item.seat_id, code=make_ticket_code(secret, event_id, item.seat_id))
        for item in items
    ]
    if tickets:
        await session.execute(INSERT_TICKETS, [row_of(t) for t in tickets])
    return tickets
