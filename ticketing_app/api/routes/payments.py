"""Payments: the original's synchronous authorize (`success`/`fail`), 202 `pending` past the
wait, or at once with PAYMENT_ASYNC."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ticketing_app.api.deps import CallerDep, RuntimeDep
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import AuthorizeIn, AuthorizeOut
from ticketing_app.observability.tracing import current_trace_id

router = APIRouter(prefix="/api/payments", tags=["payments"])
ERRORS = error_responses(400, 401, 403, 404, 409, 413, 503)


@router.post("/authorize", response_model=AuthorizeOut,
             responses={**ERRORS, 202: {"model": AuthorizeOut}})
async def authorize(body: AuthorizeIn, buyer: CallerDep, rt: RuntimeDep) -> JSONResponse:
    outcome = await rt.payments.authorize(buyer, body.orderId,
                                          wait=not rt.settings.payment_async)
    out = {"orderId": outcome.order_id, "paymentId": outcome.payment_id,
           "status": outcome.public_status, "traceId": current_trace_id()}
    return JSONResponse(out, status_code=202 if outcome.public_status == "pending" else 200)
