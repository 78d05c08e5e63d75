"""The virtual waiting room: fetch the bot check, join an event's queue, poll the place, get
the admission token.

`GET .../queue/challenge` hands out a proof-of-work challenge (signed, bound to the caller and
the event, single use, short-lived); `POST` joins (idempotent per buyer: a reload keeps the
place), with the solved challenge in the body when the room is on and the event's difficulty is
above 0 (without it: 401; a wrong, expired, reused or foreign one: 422); `GET` polls without
joining. `status` is `open` (no room: go straight to the seats), `waiting` (position, people
ahead, estimated wait), `admitted` (with the admission token the hold API wants as
`X-Admission-Token`) or `expired` (the admission lapsed; `POST` again to rejoin at the back).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from ticketing_app.api.deps import CallerDep, RuntimeDep
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import ChallengeOut, IdPath, QueueJoinIn, QueueOut
from ticketing_app.domain.events import iso, ms_to_dt
from ticketing_app.domain.pow import ALGORITHM, Solution

router = APIRouter(prefix="/api/events", tags=["waiting room"])
ERRORS = error_responses(400, 401, 404, 409, 503)


@router.get("/{event_id}/queue/challenge", response_model=ChallengeOut,
            responses=error_responses(400, 401, 404, 503))
async def queue_challenge(event_id: IdPath, buyer: CallerDep, rt: RuntimeDep,
                          response: Response) -> dict[str, Any]:
    c = await rt.waiting.challenge(buyer, event_id)
    response.headers["Cache-Control"] = "no-store"
    return {"eventId": event_id, "difficulty": c.bits if c else 0, "algorithm": ALGORITHM,
            "challenge": c.token if c else None,
            "expiresAt": iso(ms_to_dt(c.expires_at_ms)) if c else None}


@router.post("/{event_id}/queue", response_model=QueueOut, responses=ERRORS)
async def join_queue(event_id: IdPath, buyer: CallerDep, rt: RuntimeDep,
                     body: QueueJoinIn | None = None) -> dict[str, Any]:
    solution = Solution(body.challenge, body.counter) if body else None
    return (await rt.waiting.join(buyer, event_id, solution)).public()


@router.get("/{event_id}/queue", response_model=QueueOut, responses=ERRORS)
async def poll_queue(event_id: IdPath, buyer: CallerDep, rt: RuntimeDep) -> dict[str, Any]:
    return (await rt.waiting.poll(buyer, event_id)).public()
