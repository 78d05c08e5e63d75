"""Socket.IO rooms for live seat maps, and the process's one LiveHub.

A session viewing an event joins room `seats:<event id>`; the hub broadcasts each event's
changes to its room as a Reflex state delta for the seat map state's `live_*` vars (the
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
    """The hub's broadcast: a payload (`LiveHub`, `EventView.payload`) as a Reflex delta of the
    seat map state's `live_*` vars. `live_s` and `live_sv` (a whole map and its version) are
    only in a broadcast that carries the map whole; the page keeps them until the next one."""
    m = field_marker

    async def broadcast(event_id: int, payload: dict[str, Any]) -> None:
        ns = _namespace()
        if ns is None:
            return
        forget_disconnected()
        if not watched(event_id):
            return
        fields = {f"live_e{m}": payload["e"], f"live_b{m}": payload["b"],
                  f"live_v{m}": payload["v"], f"live_o{m}": payload["o"],
                  f"live_open{m}": payload.get("open", True)}
        if "s" in payload:
            fields.update({f"live_sv{m}": payload["v"], f"live_s{m}": payload["s"]})
        await room_emit(ns, "event", {"delta": {state_full_name: fields}}, room_name(event_id))

    return broadcast


async def room_emit(ns: Any, event: str, data: Any, room: str) -> int:
    """What `emit(event, data, to=room)` sends, without its task per recipient: the packet is
    encoded once and handed to each recipient's Engine.IO queue in turn (its own writer sends
    it, in order with everything else of that session). python-socketio's room emit creates a
    task per recipient and waits for them all, which took most of the web process's time in a
    broadcast to a thousand sessions (py-spy). Returns the recipients."""
    from engineio import packet as eio_packet
    from socketio import packet as sio_packet

    server = ns.server
    pkt = server.packet_class(sio_packet.EVENT, namespace=ns.namespace, data=[event, data])
    encoded = pkt.encode()
    eio_pkts = [eio_packet.Packet(eio_packet.MESSAGE, p)
                for p in (encoded if isinstance(encoded, list) else [encoded])]
    sent = 0
    for _, eio_sid in server.manager.get_participants(ns.namespace, room):
        for p in eio_pkts:
            await server.eio.send_packet(eio_sid, p)
        sent += 1
    return sent


async def reference_broadcast(state_full_name: str, event_id: int, seq: int,
                              stock: bool = True) -> int:
    """Benchmarks only (LIVE_SYNC_REFERENCE): the event's last broadcast emitted once more to
    its room, bare (no Redis, mirror or hub work before it), under names no page reads
    (`ref_n` = `seq`, `ref_o` = the same seats): what scenario 5 times the product against.
    `stock`: python-socketio's own room emit; else the hub's (`room_emit`). Returns the
    sessions in the room."""
    ns = _namespace()
    view = _hub.peek(event_id) if _hub is not None else None
    if ns is None or view is None or not watched(event_id):
        return 0
    last = view.last or {"o": {}}
    data = {"delta": {state_full_name: {"ref_n": seq, "ref_o": last["o"]}}}
    if stock:
        await ns.emit("event", data, to=room_name(event_id))
    else:
        await room_emit(ns, "event", data, room_name(event_id))
    return _watchers[event_id]


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
