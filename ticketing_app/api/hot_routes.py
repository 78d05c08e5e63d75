"""The hot routes, answered by the request layer itself (`api/edge.py`) without FastAPI's
routing and dependency solving: holding a seat and releasing it, the two requests a
stampede is made of, and the purchase's two writes (the order, the payment). Each parses
only the well-formed request; anything else (a missing or malformed header, invalid JSON, a
bad field, the checkout's contact details) goes on to the FastAPI route of the same path
(`routes/reservations.py`, `routes/orders.py`, `routes/payments.py`), whose validation and
error details stay the one definition. Both share the service call and the answer's shape.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ticketing_app.api.deps import resolve_buyer
from ticketing_app.api.edge import FALLBACK, HotHandler, HotRequest, refusal
from ticketing_app.api.errors import stored_error
from ticketing_app.api.schemas import MAX_ID, AuthorizeIn, HoldIn, OrderIn
from ticketing_app.domain.errors import DomainError
from ticketing_app.domain.events import iso
from ticketing_app.domain.idempotency import MAX_KEY_LENGTH
from ticketing_app.domain.identity import BUYER_ID_RE
from ticketing_app.observability.tracing import current_trace_id
from ticketing_app.services.reservations import Hold

if TYPE_CHECKING:
    from ticketing_app.bootstrap import Runtime

HOLD_ROUTE = "/api/reservations"
RELEASE_ROUTE = "/api/reservations/{event_id}/{seat_id:int}"
ORDER_ROUTE = "/api/orders"
AUTHORIZE_ROUTE = "/api/payments/authorize"
WRITES = frozenset({ORDER_ROUTE, AUTHORIZE_ROUTE})  # in flight and shed like FastAPI's
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


def _json(req: HotRequest) -> bool:
    ctype = req.headers.get(b"content-type")
    return ctype is None or ctype.lower().startswith(b"application/json")


async def hold(rt: Runtime, req: HotRequest) -> tuple[int, Any]:
    if not _json(req):
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


async def create_order(rt: Runtime, req: HotRequest) -> tuple[int, Any]:
    caller, key = _caller(req), req.header(b"idempotency-key")
    if not _json(req) or caller is None or not key or len(key) > MAX_KEY_LENGTH:
        return FALLBACK
    try:
        body = OrderIn.model_validate_json(req.body)
    except ValidationError:
        return FALLBACK
    if body.buyerName is not None or body.buyerEmail is not None:
        return FALLBACK  # the checkout's contact details: checked by the FastAPI route
    code, out = await rt.orders.create(resolve_buyer(rt, caller), key, body.eventId,
                                       body.seatIds)
    if code >= 400:  # a stored error answer, replayed for the same key
        raise stored_error(code, out)
    return code, out


async def authorize_answer(rt: Runtime, buyer: str, order_id: int) -> tuple[int, dict[str, Any]]:
    """The original's synchronous answer (`success`/`fail`), 202 `pending` past the wait."""
    outcome = await rt.payments.authorize(buyer, order_id, wait=not rt.settings.payment_async)
    out = {"orderId": outcome.order_id, "paymentId": outcome.payment_id,
           "status": outcome.public_status, "traceId": current_trace_id()}
    return (202 if outcome.public_status == "pending" else 200), out


async def authorize(rt: Runtime, req: HotRequest) -> tuple[int, Any]:
    caller = _caller(req)
    if not _json(req) or caller is None:
        return FALLBACK
    try:
        body = AuthorizeIn.model_validate_json(req.body)
    except ValidationError:
        return FALLBACK
    return await authorize_answer(rt, resolve_buyer(rt, caller), body.orderId)


_POSTS: dict[str, HotHandler] = {HOLD_ROUTE: hold, ORDER_ROUTE: create_order,
                                 AUTHORIZE_ROUTE: authorize}


def match(method: str, path: str) -> tuple[HotHandler, str, tuple[str, ...]] | None:
    if (post := _POSTS.get(path)) is not None:
        return (post, path, ()) if method == "POST" else None
    if method == "DELETE" and (m := _SEAT_PATH.fullmatch(path)):
        params = m.groups()
        if all(int(p) <= MAX_ID for p in params):
            return release, RELEASE_ROUTE, params
    return None
