"""Buyer tokens: `POST /api/buyers` issues a signed id for the X-Caller-Id header."""

from __future__ import annotations

from fastapi import APIRouter

from ticketing_app.api.deps import RuntimeDep
from ticketing_app.api.schemas import BuyerOut
from ticketing_app.domain.identity import issue_buyer_token, new_buyer_id

router = APIRouter(prefix="/api/buyers", tags=["buyers"])


@router.post("", status_code=201, response_model=BuyerOut)
async def new_buyer(rt: RuntimeDep) -> dict[str, str]:
    buyer = new_buyer_id()
    return {"buyerId": buyer, "token": issue_buyer_token(rt.settings.secret_key, buyer)}
