"""Socket.IO rooms for live seat maps, and the process's one LiveHub.

A session viewing an event joins room `seats:<event id>`; the hub broadcasts each event's
snapshot to its room as a Reflex state delta for the seat map state's `live_*` vars (the
state's name comes from the caller: the states import this module, never the reverse).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import TYPE_CHECKING, Any

import structlog

from ticketing_app.live.hub import LiveHub
from ticketing_app.observability import metrics

if TYPE_CHECKING:
    import reflex as rx

log = structlog.get_logger(__name__)

_hub: LiveHub | None = None
_app: rx.App | None = None
_members: dict[str, int] = {}  # sid -> event id it watches
_watchers: Counter[int] = Counter()  # event id -> sessions of this process watching it


def room_name(event_id: int) -> str:
    return f"seats:{event_id}"


def hub() -> LiveHub | None:
    return _hub


def watched(event_id: int) -> bool:
    return _watchers[event_id] > 0


def _set_member(sid: str, event_id: int | None) -> None:
    previous = _members.pop(sid, None)
    if previous is not None:
        _watchers[previous] -= 1
        if _watchers[previous] <= 0:
            del _watchers[previous]
    if event_id is not None:
        _members[sid] = event_id
        _watchers[event_id] += 1
    metrics.LIVE_SESSIONS.set(len(_members))


def _namespace() -> Any:
    return _app.event_namespace if _app is not None else None


async def join(sid: str, event_id: int) -> None:
    ns = _namespace()
    if ns is None or not sid:
        return
    previous = _members.get(sid)
    if previous == event_id:
        return
    if previous is not None:
        await ns.leave_room(sid, room_name(previous))
    await ns.enter_room(sid, room_name(event_id))
    _set_member(sid, event_id)


async def leave(sid: str) -> None:
    ns = _namespace()
    previous = _members.get(sid)
    _set_member(sid, None)
    if ns is not None and previous is not None:
        with contextlib.suppress(Exception):
            await ns.leave_room(sid, room_name(previous))


def forget_disconnected() -> None:
    """Drop sids Socket.IO no longer knows (rooms are left automatically on disconnect)."""
    ns = _namespace()
    if ns is None:
        return
    known = ns.sid_to_token
    for sid in [s for s in _members if s not in known]:
        _set_member(sid, None)


def make_broadcast(state_full_name: str, field_marker: str) -> Any:
    async def broadcast(event_id: int, payload: dict[str, Any]) -> None:
        ns = _namespace()
        if ns is None:
            return
        forget_disconnected()
        if not watched(event_id):
            return
        delta = {state_full_name: {
            f"live_e{field_marker}": payload["e"],
            f"live_v{field_marker}": payload["v"],
            f"live_s{field_marker}": payload["s"],
        }}
        await ns.emit("event", {"delta": delta}, to=room_name(event_id))

    return broadcast


def open_rooms(app: rx.App, hub_: LiveHub) -> None:
    """This process's rooms belong to `app`'s sessions, and `hub_` broadcasts to them (the web
    process's lifespan, `ticketing_app/lifespan.py`, calls this at start)."""
    global _hub, _app
    _app = app
    _hub = hub_


def close_rooms() -> None:
    global _hub, _app
    _hub = None
    _app = None
