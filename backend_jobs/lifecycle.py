"""Background tasks every web and API process runs: the seat mirror (this process's copy of
the seat maps it serves), the seat feed (the SSE stream's heartbeats; on shutdown it ends every
stream first, so the server's drain is not held up by clients that never hang up), the
hold-expiry sweeper (so expiries reach viewers even when no worker runs), the waiting rooms'
pacer and script preloading; and the garbage collector's settings for a serving process
(`tune_gc`)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import structlog

from backend_jobs.maintenance import sweeper_loop
from backend_jobs.waiting_room import waiting_room_loop
from ticketing_app.runtime import Runtime
from ticketing_app.services.seat_feed import SeatFeed

log = structlog.get_logger(__name__)


@contextlib.asynccontextmanager
async def web_background_tasks(rt: Runtime) -> AsyncIterator[None]:
    with contextlib.suppress(Exception):
        await rt.holds.scripts.preload(rt.redis)
    try:  # first start: ADMIN_BOOTSTRAP_USER / ADMIN_BOOTSTRAP_PASSWORD make the first admin
        await rt.admin_auth.ensure_bootstrap_admin()
    except Exception as exc:
        log.error("bootstrap_admin_failed", error=str(exc)[:300])
    tune_gc()
    stop = asyncio.Event()
    mirror = asyncio.create_task(rt.mirror.run(), name="seat-mirror")
    feed = asyncio.create_task(rt.seat_feed.run(), name="seat-feed")
    restore_signals = end_streams_on_exit_signal(rt.seat_feed)
    sweeper = asyncio.create_task(sweeper_loop(rt, stop), name="sweeper")
    pacer = asyncio.create_task(waiting_room_loop(rt, stop), name="waiting-room")
    try:
        yield
    finally:
        restore_signals()
        rt.seat_feed.stop()
        stop.set()
        rt.mirror.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(sweeper, pacer), 5)
        for task in (feed, mirror):
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
