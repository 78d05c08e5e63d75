"""Catalog: events, seat maps and the seat stream (public)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from starlette.types import Receive, Scope, Send

from ticketing_app.api import seat_stream
from ticketing_app.api.deps import RuntimeDep
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import EventOut, IdPath, SeatMapOut
from ticketing_app.services.catalog import event_public

if TYPE_CHECKING:
    from ticketing_app.bootstrap import Runtime

router = APIRouter(prefix="/api/events", tags=["catalog"])
NOT_FOUND = error_responses(404)


@router.get("", response_model=list[EventOut])
async def list_events(rt: RuntimeDep) -> list[dict[str, Any]]:
    return [event_public(e) for e in await rt.catalog.list_events()]


@router.get("/{event_id}", response_model=EventOut, responses=NOT_FOUND)
async def get_event(event_id: IdPath, rt: RuntimeDep) -> dict[str, Any]:
    return event_public(await rt.catalog.public_event(event_id))


@router.get("/{event_id}/seats", response_model=SeatMapOut, responses=NOT_FOUND)
async def seat_map(event_id: IdPath, rt: RuntimeDep) -> dict[str, Any]:
    return await rt.catalog.seat_map(event_id)


class _SeatStreamResponse(Response):
    """The stream, by the request layer's own handler: for a GET that reaches FastAPI without
    the layer in front (the layer serves every valid one itself; invalid ids get FastAPI's
    422 here)."""

    def __init__(self, rt: Runtime, event_id: int):
        super().__init__(media_type="text/event-stream")
        self.rt, self.event_id = rt, event_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        await seat_stream.serve(self.rt, self.event_id, scope, receive, send, headers)


@router.get(
    "/{event_id}/seats/stream", response_class=Response,
    responses={**seat_stream.openapi_description(), **NOT_FOUND, **error_responses(503)},
    summary="Seat changes as Server-Sent Events",
    description=(
        "`INIT` (the `GET /seats` body with its version) on connect, then one `SEAT_UPDATE` "
        "`{seatId, status, version}` per seat change; every message has an `id`. Reconnect "
        "with `Last-Event-ID` to get exactly the updates missed (or a fresh `INIT` when they "
        "are no longer kept). Heartbeat comments every `SSE_HEARTBEAT_S`."),
)
async def seat_changes(event_id: IdPath, rt: RuntimeDep, request: Request) -> Response:
    if request.method == "HEAD":
        await rt.catalog.public_event(event_id)
        return Response(media_type="text/event-stream")
    return _SeatStreamResponse(rt, event_id)
