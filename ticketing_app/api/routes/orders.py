"""Orders: idempotent creation (Idempotency-Key required), reads and cancellation by the buyer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from ticketing_app.api.deps import CallerDep, RuntimeDep
from ticketing_app.api.errors import error_responses, stored_error
from ticketing_app.api.schemas import IdPath, OrderIn, OrderOut
from ticketing_app.domain.buyers import check_buyer_details
from ticketing_app.domain.idempotency import MAX_KEY_LENGTH
from ticketing_app.i18n.negotiate import supported

router = APIRouter(prefix="/api/orders", tags=["orders"])
ERRORS = error_responses(400, 401, 403, 404, 409, 410, 413, 422, 503)


@router.post("", status_code=201, response_model=OrderOut, responses=ERRORS)
async def create_order(
    body: OrderIn, buyer: CallerDep, rt: RuntimeDep,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1,
                                           max_length=MAX_KEY_LENGTH)],
) -> JSONResponse:
    details = None
    if body.buyerName is not None or body.buyerEmail is not None:
        details = check_buyer_details(body.buyerName, body.buyerEmail,
                                      supported(body.language or "") or "")
    code, out = await rt.orders.create(buyer, idempotency_key, body.eventId, body.seatIds,
                                       buyer_details=details)
    if code >= 400:  # a stored error answer, replayed for the same key
        raise stored_error(code, out)
    return JSONResponse(out, status_code=code)


@router.get("/{order_id:int}", response_model=OrderOut, responses=ERRORS)
async def get_order(order_id: IdPath, buyer: CallerDep, rt: RuntimeDep) -> dict[str, Any]:
    return (await rt.orders.get(order_id, buyer)).public()


@router.get("", response_model=list[OrderOut], responses=ERRORS)
async def my_orders(buyer: CallerDep, rt: RuntimeDep) -> list[dict[str, Any]]:
    return [v.public() for v in await rt.orders.list_for_buyer(buyer)]


@router.post("/{order_id:int}/cancel", response_model=OrderOut, responses=ERRORS)
async def cancel_order(order_id: IdPath, buyer: CallerDep, rt: RuntimeDep) -> dict[str, Any]:
    return (await rt.orders.cancel(order_id, buyer, "cancelled by buyer")).public()
