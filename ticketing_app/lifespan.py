"""The lifespans of the serving processes, in one place: the web process (Reflex pages, the
websocket and the REST API) and the REST API alone (`ticketing api`).

Each starts, beside its requests: the seat mirror (this process's copy of the seat maps it
serves), the live hub (web pages only: it broadcasts seat changes to the pages' rooms), the
seat feed (the SSE stream's heartbeats; on SIGTERM it ends every stream first, so the server's
drain is not held up by clients that never hang up), the hold sweeper (expiries reach viewers
even when no worker runs) and the waiting rooms' pacer; it preloads the Lua scripts, makes the
first admin on a first start and sets the garbage collector for a serving process
(`tune_gc`). It stops them in the reverse order and closes the runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import threading
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import structlog

from ticketing_app.api.app import TicketingAPI, create_api
from ticketing_app.bootstrap import Runtime, close_runtime, get_runtime
from ticketing_app.live import rooms
from ticketing_app.live.hub import LiveHub
from ticketing_app.observability.metrics import mark_worker_exit
from ticketing_app.observability.setup import flush_traces, setup_observability
from ticketing_app.services.housekeeping import sweeper_loop, waiting_room_loop
from ticketing_app.services.seat_feed import SeatFeed

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
    tune_gc()
    stop = asyncio.Event()
    tasks.append(asyncio.create_task(rt.mirror.run(), name="seat-mirror"))
    tasks.append(asyncio.create_task(rt.seat_feed.run(), name="seat-feed"))
    restore_signals = end_streams_on_exit_signal(rt.seat_feed)
    loops = [asyncio.create_task(sweeper_loop(rt.holds, s.hold_sweep_interval_ms / 1000, stop),
                                 name="sweeper"),
             asyncio.create_task(waiting_room_loop(rt.waiting, s.waiting_room_tick_ms / 1000,
                                                   stop), name="waiting-room")]
    try:
        yield
    finally:
        restore_signals()
        rt.seat_feed.stop()
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


def end_streams_on_exit_signal(feed: SeatFeed) -> Callable[[], None]:
    """End every seat stream as soon as SIGTERM or SIGINT arrives, before the server drains.
    Both servers let open responses finish before they run the app's shutdown (granian kills
    the worker after SHUTDOWN_GRACE_S, uvicorn cancels after it), and a stream never finishes
    by itself: without this, each open stream would hold the process up for the whole grace
    period and then be cut off instead of ended.

    The server's own handling stays as it was: this wraps the Python-level handler it set
    (uvicorn's `handle_exit`; under granian the event loop's, whose real work is done through
    the loop's wakeup descriptor, which a Python-level handler does not replace). A signal left
    at its default or ignored is not touched. Returns what puts the handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals reach the main thread only (an in-process test app)
    loop = asyncio.get_running_loop()
    replaced: dict[int, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def chained(signum: int, frame: Any, previous: Any = previous) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(feed.stop)
            previous(signum, frame)

        replaced[sig] = previous
        signal.signal(sig, chained)

    def restore() -> None:
        for sig, previous in replaced.items():
            signal.signal(sig, previous)

    return restore


GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """The garbage collector, for a process that keeps many long-lived objects (the Reflex app;
    each open page's session state) and makes many short-lived ones at once (a broadcast to a
    thousand sessions): what exists at start is never garbage, so it leaves the collector's
    passes (gc.freeze: a full pass over the app alone took 110 ms); and the youngest generation
    is collected after 50,000 new objects rather than 700, so a broadcast's short-lived objects
    die young instead of being promoted. Measured with 1000 sessions in scenario 5: with the
    defaults, full passes of 100-400 ms every 0.5-2 s (gc callbacks in the web process) made
    single broadcasts arrive that much later (p95 of one change in ten 200-460 ms, the others
    40-60 ms); with these, no full pass during the run and every change's p95 under 60 ms."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


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
