"""Buyer tokens: `POST /api/buyers` issues a signed id for the X-Caller-Id header. Limited per
client address: each token is a fresh buyer, with fresh per-buyer limits."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ticketing_app.api.deps import RuntimeDep
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import BuyerOut
from ticketing_app.domain.identity import issue_buyer_token, new_buyer_id
from ticketing_app.services.rate_limits import count_attempt

router = APIRouter(prefix="/api/buyers", tags=["buyers"])


@router.post("", status_code=201, response_model=BuyerOut, responses=error_responses(429))
async def new_buyer(rt: RuntimeDep, request: Request) -> dict[str, str]:
    limit = rt.settings.rate_limit_buyers_per_minute
    await count_attempt(rt.redis, "buyers", request.client.host if request.client else "",
                        limit, f"Too many new buyers from your address; the limit is {limit} "
                               "per minute.")
    buyer = new_buyer_id()
    return {"buyerId": buyer, "token": issue_buyer_token(rt.settings.secret_key, buyer)}
