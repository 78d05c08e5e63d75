"""A client of the seat stream (`GET /api/events/{id}/seats/stream`, Server-Sent Events) as an
EventSource would read it: messages split on blank lines, `event:` / `id:` / `data:` / `retry:`
fields, comments ignored; it keeps the last id (what a reconnect sends as Last-Event-ID), the
seat statuses an INIT and the updates after it add up to, and the time each version arrived.

Used by the seat-stream integration tests and the SSE variant of scenario 5.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.waiting import until


@dataclass
class Message:
    event: str
    data: str
    id: str | None


@dataclass
class SeatStreamClient:
    base_url: str  # http://host:port of a web or API process
    event_id: int
    last_id: str | None = None  # sent as Last-Event-ID on the next connect
    version: int = -1
    seats: dict[int, str] = field(default_factory=dict)  # seat id -> status
    messages: list[Message] = field(default_factory=list)
    arrivals: dict[int, float] = field(default_factory=dict)  # version -> time.time()
    retry_ms: int | None = None
    beats: int = 0
    status: int = 0  # of the last connect
    headers: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    keep_messages: bool = True  # the bench keeps only arrivals and seats
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _resp: aiohttp.ClientResponse | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"{self.base_url}/api/events/{self.event_id}/seats/stream"

    async def connect(self, http: aiohttp.ClientSession, resume: bool = True,
                      headers: dict[str, str] | None = None, timeout: float = 30) -> int:
        """Opens the stream (with Last-Event-ID when `resume` and an id was seen) and reads it
        in the background; returns the status. A refusal's body is kept in `errors`."""
        hdrs = {"Accept": "text/event-stream", **(headers or {})}
        if resume and self.last_id is not None:
            hdrs["Last-Event-ID"] = self.last_id
        self.ended.clear()
        resp = await http.get(self.url, headers=hdrs, timeout=aiohttp.ClientTimeout(
            total=None, connect=timeout, sock_connect=timeout, sock_read=None))
        self.status, self.headers = resp.status, dict(resp.headers)
        if resp.status != 200:
            self.errors.append(await resp.text())
            resp.release()
            self.ended.set()
            return resp.status
        self._resp = resp
        self._task = asyncio.create_task(self._read(resp))
        return resp.status

    async def _read(self, resp: aiohttp.ClientResponse) -> None:
        buf = b""
        try:
            async for chunk in resp.content.iter_any():
                now = time.time()
                buf += chunk
                *whole, buf = buf.replace(b"\r\n", b"\n").split(b"\n\n")
                for raw in whole:
                    self._on_message(raw.decode(), now)
                if whole:
                    self.changed.set()
        except (aiohttp.ClientError, ConnectionError, asyncio.CancelledError):
            pass
        except Exception as exc:  # a protocol surprise: the test or scenario reports it
            self.errors.append(repr(exc))
        finally:
            self.ended.set()
            self.changed.set()

    def _on_message(self, raw: str, now: float) -> None:
        event, data, ident = "message", [], None
        for line in raw.split("\n"):
            if not line or line.startswith(":"):
                if line.startswith(":"):
                    self.beats += 1
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                ident = value
            elif name == "retry" and value.isdigit():
                self.retry_ms = int(value)
        if ident is not None:
            self.last_id = ident
        if not data:
            return
        msg = Message(event, "\n".join(data), ident)
        if self.keep_messages:
            self.messages.append(msg)
        body: dict[str, Any] = json.loads(msg.data)
        if event == "INIT":
            self.seats = {int(s["id"]): str(s["status"]) for s in body["seats"]}
            self.version = int(body["version"])
        elif event == "SEAT_UPDATE":
            self.seats[int(body["seatId"])] = str(body["status"])
            self.version = int(body["version"])
        self.arrivals.setdefault(self.version, now)

    # ---- what callers use ---------------------------------------------------------------
    def of_kind(self, event: str) -> list[dict[str, Any]]:
        return [json.loads(m.data) for m in self.messages if m.event == event]

    async def wait_for(self, predicate: Any, timeout: float) -> bool:
        """Waits until predicate(self) is true; False on timeout."""
        return await until(lambda: bool(predicate(self)), self.changed, timeout)

    async def close(self) -> None:
        """The client goes away (the connection closes)."""
        if self._resp is not None:
            self._resp.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._resp, self._task = None, None
