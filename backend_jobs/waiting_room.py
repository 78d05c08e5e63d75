"""The waiting rooms' pacer: every web and worker process advances every open queue a few
times a second. The advance script is atomic and paced by the time since the last advance,
so running it in many processes at once admits no more than running it in one."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from ticketing_app.runtime import Runtime

log = structlog.get_logger(__name__)


async def waiting_room_loop(rt: Runtime, stop: asyncio.Event | None = None) -> None:
    interval = rt.settings.waiting_room_tick_ms / 1000
    stop = stop or asyncio.Event()
    with contextlib.suppress(Exception):
        await rt.waiting.scripts.preload(rt.redis)
    while not stop.is_set():
        try:
            await rt.waiting.advance_all()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis down for a moment: keep trying
            log.warning("waiting_room_advance_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
