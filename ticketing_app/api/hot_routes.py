"""The hot routes, answered by the request layer itself (`api/edge.py`) without FastAPI's
routing and dependency solving: holding a seat and releasing it, the two requests a
stampede is made of. Each parses only the well-formed request; anything else (a missing or
malformed header, invalid JSON, a bad field) goes on to the FastAPI route of the same path
(`routes/reservations.py`), whose validation and error details stay the one definition. Both
share the service call and the answer's shape below.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ticketing_app.api.deps import resolve_buyer
from ticketing_app.api.edge import FALLBACK, HotHandler, HotRequest, refusal
from ticketing_app.api.schemas import MAX_ID, HoldIn
from ticketing_app.domain.errors import DomainError
from ticketing_app.domain.events import iso
from ticketing_app.domain.identity import BUYER_ID_RE
from ticketing_app.observability.tracing import current_trace_id
from ticketing_app.services.reservations import Hold

if TYPE_CHECKING:
    from ticketing_app.bootstrap import Runtime

HOLD_ROUTE = "/api/reservations"
RELEASE_ROUTE = "/api/reservations/{event_id}/{seat_id:int}"
ADMISSION_MAX = 300  # as X-Admission-Token's declared max_length
ACCESS_CODE_MAX = 40  # as X-Access-Code's
_SEAT_PATH = re.compile(r"/api/reservations/([1-9][0-9]{0,9})/([1-9][0-9]{0,9})")


def hold_answer(body: HoldIn, h: Hold) -> dict[str, Any]:
    return {
        "eventId": h.event_id, "seatId": body.seatId, "seatIds": h.seat_ids,
        "holdSeconds": h.hold_seconds, "expiresAt": iso(h.expires_at),
        "traceId": current_trace_id(),
    }


def _caller(req: HotRequest) -> str | None:
    caller = req.header(b"x-caller-id")
    return caller if caller and BUYER_ID_RE.match(caller) else None


async def hold(rt: Runtime, req: HotRequest) -> tuple[int, Any]:
    ctype = req.headers.get(b"content-type")
    if ctype is not None and not ctype.lower().startswith(b"application/json"):
        return FALLBACK
    caller = _caller(req)
    admission = req.header(b"x-admission-token")
    if caller is None or (admission is not None and len(admission) > ADMISSION_MAX):
        return FALLBACK
    access_code = req.header(b"x-access-code")
    if access_code is not None and len(access_code) > ACCESS_CODE_MAX:
        return FALLBACK
    try:
        body = HoldIn.model_validate_json(req.body)
    except ValidationError:
        return FALLBACK
    buyer = resolve_buyer(rt, caller)
    h = await rt.reservations.attempt(buyer, body.eventId, body.seats, body.holdSeconds,
                                      admission=admission or body.admissionToken,
                                      client=req.client,
                                      access_code=access_code or body.accessCode,
                                      wheelchair=body.wheelchair)
    if isinstance(h, DomainError):
        return refusal(h)
    return 201, hold_answer(body, h)


async def release(rt: Runtime, req: HotRequest) -> tuple[int, Any]:
    caller = _caller(req)
    if caller is None:
        return FALLBACK
    event_id, seat_id = int(req.params[0]), int(req.params[1])
    await rt.reservations.release(resolve_buyer(rt, caller), event_id, [seat_id])
    return 204, None


def match(method: str, path: str) -> tuple[HotHandler, str, tuple[str, ...]] | None:
    if path == HOLD_ROUTE:
        return (hold, HOLD_ROUTE, ()) if method == "POST" else None
    if method == "DELETE" and (m := _SEAT_PATH.fullmatch(path)):
        params = m.groups()
        if all(int(p) <= MAX_ID for p in params):
            return release, RELEASE_ROUTE, params
    return None
