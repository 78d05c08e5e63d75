"""Check-in at the door (admins, door staff included): `POST /api/checkins` admits a ticket
once; the events to check in, the door's counts, the search by name, and reading a QR code
from a camera frame (`POST /api/checkins/scan`, for browsers without BarcodeDetector). These
are the only admin routes door staff may use (`needs(Capability.CHECK_IN)`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from ticketing_app.api.admin_auth import AdminDep, needs, require_admin
from ticketing_app.api.admin_schemas import CheckinIn
from ticketing_app.api.deps import RuntimeDep
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import IdPath
from ticketing_app.domain import errors
from ticketing_app.domain.events import iso
from ticketing_app.domain.roles import Capability
from ticketing_app.domain.tickets import scanned_ticket_code
from ticketing_app.services.scanner import FRAME_TYPES

router = APIRouter(prefix="/api/checkins", tags=["check-in"],
                   dependencies=[Depends(require_admin)], responses=error_responses(401, 403, 404))
ERRORS = error_responses(400, 401, 403, 404, 409, 413, 422)


@router.post("", responses=ERRORS)
@needs(Capability.CHECK_IN)
async def check_in(body: CheckinIn, who: AdminDep, rt: RuntimeDep) -> dict[str, Any]:
    """200 `{result: ADMITTED, ...}`; a refusal is an error: TICKET_INVALID (forged or altered,
    422), TICKET_ALREADY_USED (409, details say who, where and when), TICKET_REFUNDED (409),
    TICKET_WRONG_EVENT (409), EVENT_CANCELLED (409), TICKET_NOT_FOUND (404). Send `code`, or
    `ticketId` with `eventId` for a ticket found by name."""
    code = body.code
    if not code and body.ticketId:
        if not body.eventId:
            raise errors.ValidationFailed("A ticketId needs its eventId.",
                                          [{"field": "eventId", "message": "required"}])
        code = await rt.box_office.ticket_code(body.eventId, body.ticketId)
    elif not code:
        raise errors.ValidationFailed("Send the ticket's code (or its ticketId).",
                                      [{"field": "code", "message": "required"}])
    admission = await rt.checkins.check_in(who.username, code, body.gate, body.eventId)
    return admission.public()


FRAME_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    t: {"schema": {"type": "string", "format": "binary"}} for t in FRAME_TYPES}}}


@router.post("/scan", responses=error_responses(400, 401, 403, 413, 422),
             openapi_extra=FRAME_BODY)
@needs(Capability.CHECK_IN)
async def scan_frame(request: Request, rt: RuntimeDep) -> dict[str, Any]:
    """Reads the QR code in one camera frame (the raw JPEG, PNG or WebP image as the body;
    the check-in page sends one a few times a second where the browser has no BarcodeDetector).
    200 `{code, codes}`: `code` is the ticket code to check in (null: no QR code in this
    frame), `codes` every QR code read. Admits nothing: the page checks `code` in through
    `POST /api/checkins`' own path, like a typed code. 422 for a body that is not such an
    image."""
    codes = list(await rt.scanner.codes(await request.body()))
    return {"code": scanned_ticket_code(codes), "codes": codes}


@router.get("/events")
@needs(Capability.CHECK_IN)
async def door_events(rt: RuntimeDep) -> list[dict[str, Any]]:
    """The events a door can check in (not drafts, not cancelled), soonest first."""
    events = [e for e in await rt.admin.list_events() if e.status in ("ON_SALE", "CLOSED")]
    return [{"id": e.id, "title": e.title, "startsAt": iso(e.starts_at), "status": e.status}
            for e in sorted(events, key=lambda e: e.starts_at)]


@router.get("/{event_id}/search")
@needs(Capability.CHECK_IN)
async def door_search(event_id: IdPath, rt: RuntimeDep,
                      q: Annotated[str, Query(max_length=200)] = "") -> list[dict[str, Any]]:
    """The event's tickets by buyer name or e-mail (any part), order reference or seat, for
    a code that will not scan; check one in with `POST /api/checkins {ticketId, eventId}`."""
    await rt.catalog.get_event(event_id)
    return [h.public() for h in await rt.box_office.door_search(event_id, q)]


@router.get("/{event_id}/counts")
@needs(Capability.CHECK_IN)
async def counts(event_id: IdPath, rt: RuntimeDep) -> dict[str, int]:
    await rt.catalog.get_event(event_id)
    return await rt.checkins.counts(event_id)
