"""The virtual waiting room: join an event's queue, poll the place, get the admission token.

`POST` joins (idempotent per buyer: a reload keeps the place); `GET` polls without joining.
`status` is `open` (no room: go straight to the seats), `waiting` (position, people ahead,
estimated wait), `admitted` (with the admission token the hold API wants as
`X-Admission-Token`) or `expired` (the admission lapsed; `POST` again to rejoin at the back).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ticketing_app.api.deps import CallerDep, RuntimeDep
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import IdPath, QueueOut

router = APIRouter(prefix="/api/events", tags=["waiting room"])
ERRORS = error_responses(400, 401, 404, 409, 503)


@router.post("/{event_id}/queue", response_model=QueueOut, responses=ERRORS)
async def join_queue(event_id: IdPath, buyer: CallerDep, rt: RuntimeDep) -> dict[str, Any]:
    return (await rt.waiting.join(buyer, event_id)).public()


@router.get("/{event_id}/queue", response_model=QueueOut, responses=ERRORS)
async def poll_queue(event_id: IdPath, buyer: CallerDep, rt: RuntimeDep) -> dict[str, Any]:
    return (await rt.waiting.poll(buyer, event_id)).public()
