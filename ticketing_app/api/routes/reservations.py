"""Reservations (holds). The holder is the caller; only the holder may extend or release.

Holding and releasing are answered by the request layer's hot routes (`api/hot_routes.py`)
whenever the request is well formed; these routes define their contract (OpenAPI, validation
and its error details) and serve the rest."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response

from ticketing_app.api.deps import CallerDep, RuntimeDep
from ticketing_app.api.errors import error_responses
from ticketing_app.api.hot_routes import hold_answer
from ticketing_app.api.schemas import (
    ExtendIn,
    ExtendOut,
    HoldIn,
    HoldOut,
    IdPath,
    MyHoldOut,
)
from ticketing_app.domain.events import iso, ms_to_dt

router = APIRouter(prefix="/api/reservations", tags=["reservations"])
ERRORS = error_responses(400, 401, 403, 404, 409, 410, 413, 422, 429, 503)


AdmissionHeader = Annotated[str | None, Header(alias="X-Admission-Token", max_length=300)]
AccessCodeHeader = Annotated[str | None, Header(alias="X-Access-Code", max_length=40)]


@router.post("", status_code=201, response_model=HoldOut, responses=ERRORS)
async def hold(body: HoldIn, buyer: CallerDep, rt: RuntimeDep, request: Request,
               x_admission_token: AdmissionHeader = None,
               x_access_code: AccessCodeHeader = None) -> dict[str, Any]:
    """During an event's presale only buyers who redeemed an access code may hold: send it
    once, as `X-Access-Code` or `accessCode` (409 SALES_CLOSED names `accessCode` otherwise)."""
    h = await rt.reservations.hold(buyer, body.eventId, body.seats, body.holdSeconds,
                                   admission=x_admission_token or body.admissionToken,
                                   client=request.client.host if request.client else None,
                                   access_code=x_access_code or body.accessCode,
                                   wheelchair=body.wheelchair)
    return hold_answer(body, h)


@router.post("/{event_id}/{seat_id:int}/extend", response_model=ExtendOut, responses=ERRORS)
async def extend(event_id: IdPath, seat_id: IdPath, buyer: CallerDep, rt: RuntimeDep,
                 body: ExtendIn | None = None) -> dict[str, Any]:
    seconds = body.seconds if body else None
    expires = await rt.reservations.extend(buyer, event_id, [seat_id], seconds)
    return {"expiresAt": iso(expires)}


@router.delete("/{event_id}/{seat_id:int}", status_code=204, responses=ERRORS)
async def release(event_id: IdPath, seat_id: IdPath, buyer: CallerDep, rt: RuntimeDep) -> Response:
    await rt.reservations.release(buyer, event_id, [seat_id])
    return Response(status_code=204)


@router.get("/{event_id}/mine", response_model=list[MyHoldOut], responses=ERRORS)
async def my_holds(event_id: IdPath, buyer: CallerDep, rt: RuntimeDep) -> list[dict[str, Any]]:
    await rt.catalog.public_event(event_id)
    return [{"seatId": h.seat_id, "expiresAt": iso(ms_to_dt(h.expires_at_ms)),
             "inOrder": h.in_order} for h in await rt.reservations.my_holds(buyer, event_id)]
