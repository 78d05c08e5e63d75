"""Payments: the original's synchronous authorize (`success`/`fail`), 202 `pending` past the
wait, or at once with PAYMENT_ASYNC."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ticketing_app.api.deps import CallerDep, RuntimeDep
from ticketing_app.api.errors import error_responses
from ticketing_app.api.hot_routes import authorize_answer
from ticketing_app.api.schemas import AuthorizeIn, AuthorizeOut

router = APIRouter(prefix="/api/payments", tags=["payments"])
ERRORS = error_responses(400, 401, 403, 404, 409, 413, 503)


@router.post("/authorize", response_model=AuthorizeOut,
             responses={**ERRORS, 202: {"model": AuthorizeOut}})
async def authorize(body: AuthorizeIn, buyer: CallerDep, rt: RuntimeDep) -> JSONResponse:
    code, out = await authorize_answer(rt, buyer, body.orderId)
    return JSONResponse(out, status_code=code)
