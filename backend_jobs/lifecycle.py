"""Background tasks every web and API process runs: the seat mirror (this process's copy of
the seat maps it serves), the hold-expiry sweeper (so expiries reach viewers even when no
worker runs), the waiting rooms' pacer and script preloading."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog

from backend_jobs.maintenance import sweeper_loop
from backend_jobs.waiting_room import waiting_room_loop
from ticketing_app.runtime import Runtime

log = structlog.get_logger(__name__)


@contextlib.asynccontextmanager
async def web_background_tasks(rt: Runtime) -> AsyncIterator[None]:
    with contextlib.suppress(Exception):
        await rt.holds.scripts.preload(rt.redis)
    try:  # first start: ADMIN_BOOTSTRAP_USER / ADMIN_BOOTSTRAP_PASSWORD make the first admin
        await rt.admin_auth.ensure_bootstrap_admin()
    except Exception as exc:
        log.error("bootstrap_admin_failed", error=str(exc)[:300])
    stop = asyncio.Event()
    mirror = asyncio.create_task(rt.mirror.run(), name="seat-mirror")
    sweeper = asyncio.create_task(sweeper_loop(rt, stop), name="sweeper")
    pacer = asyncio.create_task(waiting_room_loop(rt, stop), name="waiting-room")
    try:
        yield
    finally:
        stop.set()
        rt.mirror.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(sweeper, pacer), 5)
        mirror.cancel()
        with contextlib.suppress(BaseException):
            await mirror
