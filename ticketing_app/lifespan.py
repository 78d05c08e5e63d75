"""The lifespans of the serving processes, in one place: the web process (Reflex pages, the
websocket and the REST API) and the REST API alone (`ticketing api`).

Each starts, beside its requests: the seat mirror (this process's copy of the seat maps it
serves), the live hub (web pages only: it broadcasts seat maps to the pages' rooms), the hold
sweeper (expiries reach viewers even when no worker runs) and the waiting rooms' pacer; it
preloads the Lua scripts and makes the first admin on a first start. It stops them in the
reverse order and closes the runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import structlog

from ticketing_app.api.app import TicketingAPI, create_api
from ticketing_app.bootstrap import Runtime, close_runtime, get_runtime
from ticketing_app.live import rooms
from ticketing_app.live.hub import LiveHub
from ticketing_app.observability.metrics import mark_worker_exit
from ticketing_app.observability.setup import flush_traces, setup_observability
from ticketing_app.services.housekeeping import sweeper_loop, waiting_room_loop

if TYPE_CHECKING:
    import reflex as rx
    from fastapi import FastAPI

log = structlog.get_logger(__name__)

HubFactory = Callable[[Runtime], LiveHub]


@contextlib.asynccontextmanager
async def background_tasks(rt: Runtime, make_hub: HubFactory | None = None
                           ) -> AsyncIterator[None]:
    """Every background task of a serving process, for as long as the block runs; the live
    hub only when `make_hub` is given (the web process)."""
    s = rt.settings
    hub = make_hub(rt) if make_hub is not None else None
    tasks = [asyncio.create_task(hub.run(), name="live-hub")] if hub is not None else []
    with contextlib.suppress(Exception):
        await rt.holds.scripts.preload(rt.redis)
    try:  # first start: ADMIN_BOOTSTRAP_USER / ADMIN_BOOTSTRAP_PASSWORD make the first admin
        await rt.admin_auth.ensure_bootstrap_admin()
    except Exception as exc:
        log.error("bootstrap_admin_failed", error=str(exc)[:300])
    stop = asyncio.Event()
    tasks.append(asyncio.create_task(rt.mirror.run(), name="seat-mirror"))
    loops = [asyncio.create_task(sweeper_loop(rt.holds, s.hold_sweep_interval_ms / 1000, stop),
                                 name="sweeper"),
             asyncio.create_task(waiting_room_loop(rt.waiting, s.waiting_room_tick_ms / 1000,
                                                   stop), name="waiting-room")]
    try:
        yield
    finally:
        if hub is not None:
            hub.stop()
        stop.set()
        rt.mirror.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*loops), 5)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


@contextlib.asynccontextmanager
async def serving(service: str, make_hub: HubFactory | None = None) -> AsyncIterator[Runtime]:
    """A serving process's whole life: observability, the runtime, the background tasks."""
    setup_observability(service)
    rt = await get_runtime()
    try:
        async with background_tasks(rt, make_hub):
            yield rt
    finally:
        await close_runtime()
        flush_traces()
        mark_worker_exit()


@contextlib.asynccontextmanager
async def web_lifespan(app: rx.App) -> AsyncIterator[None]:
    """The web process's lifespan task (Reflex passes its app): everything above, with the
    live hub broadcasting to the rooms of `app`'s sessions."""
    from reflex_base.constants.state import FIELD_MARKER

    from ticketing_app.state.seat_map import SeatMapState

    def make_hub(rt: Runtime) -> LiveHub:
        hub = LiveHub(rt.mirror, rt.catalog,
                      rooms.make_broadcast(SeatMapState.get_full_name(), FIELD_MARKER),
                      rt.settings.live_sync_flush_ms, in_use=rooms.watched)
        rooms.open_rooms(app, hub)
        return hub

    try:
        async with serving("web", make_hub):
            yield
    finally:
        rooms.close_rooms()


@contextlib.asynccontextmanager
async def api_lifespan(_: FastAPI) -> AsyncIterator[None]:
    async with serving("api"):
        yield


def create_standalone_app() -> TicketingAPI:
    """The REST API alone (`ticketing api`), with its process's background tasks."""
    return create_api(lifespan=api_lifespan)
