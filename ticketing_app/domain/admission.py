"""Waiting-room admission tokens: HMAC-signed with the app's secret key and bound to the buyer,
the event, the queue position, the room's epoch and an expiry.

The buyer id is signed but not written into the token, so a token is useless to anyone else:
verifying it needs the caller's own buyer id. Resetting a room changes its epoch, which
invalidates every token issued before.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

from ticketing_app.domain.identity import sign_value

TOKEN_PREFIX = "w1"
PURPOSE = "admission"


@dataclass(frozen=True)
class Admission:
    event_id: int
    position: int
    expires_at_ms: int
    epoch: str


def _payload(buyer_id: str, a: Admission) -> str:
    return f"{buyer_id}|{a.event_id}|{a.position}|{a.expires_at_ms}|{a.epoch}"


def issue_admission_token(secret: str, buyer_id: str, admission: Admission) -> str:
    a = admission
    sig = sign_value(secret, PURPOSE, _payload(buyer_id, a), 43)
    return f"{TOKEN_PREFIX}.{a.event_id}.{a.position}.{a.expires_at_ms}.{a.epoch}.{sig}"


def verify_admission_token(
    secret: str, buyer_id: str, event_id: int, token: str, now_ms: int | None = None
) -> Admission | None:
    """The admission when the token is ours, for this buyer and event, and not expired."""
    parts = token.split(".")
    # ASCII only: str.isdigit() also accepts "²", which int() refuses (that was a 500).
    if len(parts) != 6 or parts[0] != TOKEN_PREFIX or not token.isascii():
        return None
    _, ev, pos, exp, epoch, sig = parts
    if not (ev.isdigit() and pos.isdigit() and exp.isdigit() and epoch.isalnum()):
        return None
    a = Admission(int(ev), int(pos), int(exp), epoch)
    if a.event_id != event_id:
        return None
    if not hmac.compare_digest(sig, sign_value(secret, PURPOSE, _payload(buyer_id, a), 43)):
        return None
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if a.expires_at_ms <= now:
        return None
    return a
