"""Check-in at the door (admins only): `POST /api/checkins` admits a ticket once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ticketing_app.api.admin_auth import AdminDep, require_admin
from ticketing_app.api.admin_schemas import CheckinIn
from ticketing_app.api.deps import RuntimeDep
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import IdPath

router = APIRouter(prefix="/api/checkins", tags=["check-in"],
                   dependencies=[Depends(require_admin)], responses=error_responses(401, 403, 404))
ERRORS = error_responses(400, 401, 403, 404, 409, 413, 422)


@router.post("", responses=ERRORS)
async def check_in(body: CheckinIn, who: AdminDep, rt: RuntimeDep) -> dict[str, Any]:
    """200 `{result: ADMITTED, ...}`; a refusal is an error: TICKET_INVALID (forged or altered,
    422), TICKET_ALREADY_USED (409, details say who, where and when), TICKET_REFUNDED (409),
    TICKET_WRONG_EVENT (409), EVENT_CANCELLED (409), TICKET_NOT_FOUND (404)."""
    admission = await rt.checkins.check_in(who.username, body.code, body.gate, body.eventId)
    return admission.public()


@router.get("/{event_id}/counts")
async def counts(event_id: IdPath, rt: RuntimeDep) -> dict[str, int]:
    await rt.catalog.get_event(event_id)
    return await rt.checkins.counts(event_id)
