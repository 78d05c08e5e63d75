"""The reference endpoints of the `original_k6` scenario: the least that answers a hold request,
measured in the same run as the product so its figures read as ratios to this machine's limit.

Both are raw ASGI apps on granian with the settings fixed below (one worker per core, uvloop,
the same listen backlog as the product):

- `noop`: reads the body and answers `409` with a standard error body, touching nothing.
- `evalsha`: reads the body, runs our real `hold.lua` once (EVALSHA through redis-py), and
  answers `201` or `409` by its result: the bare minimum of a hold that asks Redis every time.
  Other requests of the scenario (its orders and releases) get an empty `204`.

Run: `python -m bench.reference_app noop|evalsha PORT` (REDIS_URL for `evalsha`).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from typing import Any

from ticketing_app.holds.keys import EventKeys
from ticketing_app.holds.scripts import script_source

WORKERS = os.cpu_count() or 1
BACKLOG = 4096
POOL = 100  # Redis connections per worker

_CONFLICT = json.dumps({"code": "RESERVATION_CONFLICT", "message": "Someone else is holding "
                        "this seat.", "traceId": "0" * 32}).encode()
_HEADERS = [(b"content-type", b"application/json")]


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        msg = await receive()
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*_HEADERS, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def noop_app() -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        await _body(receive)
        await _answer(send, 409, _CONFLICT)

    return app


def evalsha_app() -> Any:
    from redis.asyncio import Redis

    state: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            # A FIFO semaphore in front of the pool: redis-py's pool raises when it runs out.
            redis = Redis.from_url(os.environ["REDIS_URL"], max_connections=POOL)
            state["script"] = redis.register_script(script_source("hold"))
            state["gate"] = asyncio.Semaphore(POOL)
            await _lifespan(receive, send)
            await redis.aclose()
            return
        raw = await _body(receive)
        if scope["method"] != "POST" or scope["path"] != "/api/reservations":
            await _answer(send, 204, b"")  # the scenario's order/release: not measured here
            return
        body = json.loads(raw)
        buyer = dict(scope["headers"]).get(b"x-caller-id", b"anon").decode()
        event_id = int(body["eventId"])
        async with state["gate"]:
            # As the product calls it with the abuse limits off (0: the two counter keys are
            # declared, never touched).
            keys = EventKeys(event_id)
            res = await state["script"](
                keys=[*keys.script_keys(), keys.attempts("b", buyer, 0),
                      keys.attempts("a", "-", 0)],
                args=[event_id, buyer, "", body.get("holdSeconds", ""), "", 0, 0,
                      int(body["seatId"])])
        if res[0] == b"OK":
            await _answer(send, 201, json.dumps({"eventId": event_id, "seatId": body["seatId"],
                                                 "expiresAt": int(res[1]),
                                                 "traceId": uuid.uuid4().hex}).encode())
        else:
            await _answer(send, 409, _CONFLICT)

    return app


def serve(mode: str, port: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    target = {"noop": "bench.reference_app:noop_app",
              "evalsha": "bench.reference_app:evalsha_app"}[mode]
    Granian(target, factory=True, address="127.0.0.1", port=port, workers=WORKERS,
            interface=Interfaces.ASGI, loop=Loops.uvloop, log_enabled=False, websockets=False,
            backlog=BACKLOG).serve()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
