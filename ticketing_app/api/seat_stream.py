"""`GET /api/events/{id}/seats/stream`: the original's Server-Sent Events stream of seat
changes, served by the request layer (`api/edge.py`) outside the shedding of database-bound
routes (API_MAX_INFLIGHT): a stream is long-lived and costs no database work after its start.
It has its own cap, SSE_MAX_CLIENTS per process. The changes come from this process's seat
feed (`services/seat_feed.py`).

On the wire (text/event-stream, UTF-8):

    retry: 3000                                   once, first

    event: INIT                                   on connect (and after a reload, below)
    id: 1733740000012
    data: {"eventId": 7, "rows": 10, "cols": 10, "version": 1733740000012, "seats": [...]}

    event: SEAT_UPDATE                            one per seat that changed
    id: 1733740000013
    data: {"seatId": 42, "status": "HELD", "version": 1733740000013}

    : keep-alive                                  every SSE_HEARTBEAT_S

INIT's data is exactly the `GET /api/events/{id}/seats` body with its version. `version` is the
event's seat-map version: strictly increasing, the same in every process. A version that
changed several seats (a multi-seat hold, a sale, a sweep) sends one SEAT_UPDATE per seat;
the last carries `id: <version>`, the ones before it `id: <version>:<n>` (n seats of that
version received), so a client cut off in the middle of a version resumes exactly where it
was. A reconnect with `Last-Event-ID` gets exactly the updates it missed, or a fresh INIT when
the event's change log no longer reaches back that far (or the event was rebuilt since); a
fresh INIT can also come mid-stream, when the process's copy of the map was reloaded (a message
lost on the way, Redis restarted): it replaces everything the client has.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import TYPE_CHECKING, Any

import orjson
from starlette.types import Message, Receive, Scope, Send

from ticketing_app.api.schemas import MAX_ID
from ticketing_app.services.seat_feed import BEAT, INIT, Item, Subscription

if TYPE_CHECKING:
    from ticketing_app.bootstrap import Runtime

STREAM_ROUTE = "/api/events/{event_id}/seats/stream"
_PATH = re.compile(r"/api/events/([0-9]{1,12})/seats/stream")
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),  # nginx and friends: do not buffer the stream
]
BEAT_WIRE = b": keep-alive\n\n"


def match(method: str, path: str) -> int | None:
    """The event id when this request is for a seat stream the layer serves; anything else
    (another method, an id out of range) goes on to FastAPI's route of the same path."""
    if method != "GET" or not path.endswith("/seats/stream"):
        return None
    m = _PATH.fullmatch(path)
    if m is None:
        return None
    event_id = int(m.group(1))
    return event_id if 1 <= event_id <= MAX_ID else None


def encode(item: Item) -> bytes:
    """An item as SSE messages; shared items are encoded once, for every client."""
    if item.wire is not None:
        return item.wire
    if item.kind == BEAT:
        wire = BEAT_WIRE
    elif item.kind == INIT:
        wire = b"event: INIT\nid: %d\ndata: %b\n\n" % (item.version, orjson.dumps(item.body))
    else:
        v, last = item.version, item.offset + len(item.seats)
        out = []
        for n, (seat, status) in enumerate(item.seats, start=item.offset + 1):
            ident = b"%d" % v if n == last else b"%d:%d" % (v, n)
            out.append(b"event: SEAT_UPDATE\nid: %b\ndata: {\"seatId\":%d,\"status\":\"%b\","
                       b"\"version\":%d}\n\n" % (ident, seat, status.encode(), v))
        wire = b"".join(out)
    if item.offset == 0:
        item.wire = wire
    return wire


def last_event_id(scope: Scope, headers: dict[bytes, bytes]) -> str | None:
    """The header a reconnecting EventSource sends; or `lastEventId` in the query, for
    clients that cannot set headers (the usual EventSource polyfills' convention)."""
    raw = headers.get(b"last-event-id")
    if raw is not None:
        return raw.decode("latin-1")
    query: bytes = scope.get("query_string", b"")
    for part in query.split(b"&"):
        key, _, value = part.partition(b"=")
        if key == b"lastEventId":
            return value.decode("latin-1")
    return None


async def serve(rt: Runtime, event_id: int, scope: Scope, receive: Receive, send: Send,
                headers: dict[bytes, bytes]) -> None:
    """One client's stream, for as long as it reads. Refusals (an unknown or unpublished
    event: 404; too many streams: 503) are raised before anything is sent, so the layer
    answers them with the standard error body."""
    sub = await rt.seat_feed.subscribe(event_id, last_event_id(scope, headers))
    writer: asyncio.Task[bool] | None = None
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        writer = sub.writer = asyncio.ensure_future(
            _write(sub, send, b"retry: %d\n\n" % rt.settings.sse_retry_ms))
        await asyncio.wait((writer, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        rt.seat_feed.unsubscribe(sub, "gone")
        for task in (writer, gone):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
    if writer is not None and writer.done() and not writer.cancelled() \
            and writer.exception() is None and writer.result():
        # The feed ended the stream (the process is shutting down): end it cleanly, so the
        # client reconnects (to another process) at once. A client that stopped reading was
        # cut off instead: its writer was cancelled in the middle of a send.
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _write(sub: Subscription, send: Send, first: bytes) -> bool:
    """Sends what the feed hands this client until it closes the subscription (True)."""
    pending = first
    while True:
        items = await sub.take()
        if not items:
            return True
        chunk = b"".join(encode(item) for item in items)
        if pending:
            chunk, pending = pending + chunk, b""
        sub.sending = True
        try:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            sub.sending = False


async def _disconnected(receive: Receive) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return


def openapi_description() -> dict[int | str, dict[str, Any]]:
    """What FastAPI's route documents for the stream (the layer serves it)."""
    return {200: {"description": "A text/event-stream of INIT and SEAT_UPDATE messages.",
                  "content": {"text/event-stream": {"schema": {"type": "string"}}}}}

