"""Ticket codes: signed, so a forged or altered code is refused without looking anything up.
Pure: the secret comes from the caller; writing tickets is `services/tickets.py`."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence

from ticketing_app.domain.identity import sign_value

CODE_PREFIX = "TK1"


def make_ticket_code(secret: str, event_id: int, seat_id: int) -> str:
    nonce = secrets.token_urlsafe(9).replace("-", "x").replace("_", "y")
    body = f"{event_id}-{seat_id}-{nonce}"
    return f"{CODE_PREFIX}.{body}.{sign_value(secret, 'ticket', body, 22)}"


def parse_ticket_code(secret: str, code: str) -> tuple[int, int] | None:
    """(event id, seat id) for a genuine code, else None."""
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


def scanned_ticket_code(texts: Sequence[str]) -> str | None:
    """Of the QR codes read in one camera frame, the one to check in: the first that looks
    like a ticket code, else the first of any kind (the check then says it is not a ticket),
    else None."""
    texts = [t.strip() for t in texts if t and t.strip()]
    return next((t for t in texts if t.startswith(CODE_PREFIX + ".")), None) or \
        (texts[0] if texts else None)
