"""Catalog: events and seat maps (public)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ticketing_app.api.deps import RuntimeDep
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import EventOut, IdPath, SeatMapOut
from ticketing_app.services.catalog import event_public

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
