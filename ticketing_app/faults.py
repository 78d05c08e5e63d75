"""Test-only fault points. `FAULT_INJECT` names steps (comma-separated) where a process pauses
for `FAULT_INJECT_PAUSE_S`, so a fault-injection test can kill it, or cut a dependency, at
that exact step instead of guessing with timers. Empty (the default) means no pause anywhere;
the settings object refuses it in production, and any name not in `settings.FAULT_POINTS`.

Points: `order.after_lock` (seats locked in Redis, order not written), `order.after_commit`
(order committed, answer not sent), `relay.after_ack` (broker acknowledged, rows not marked
sent), `payment.after_compensation_commit` (order cancelled in the database, seats not yet
released in Redis).
"""

from __future__ import annotations

import asyncio

import structlog

from ticketing_app.settings import Settings

log = structlog.get_logger(__name__)


async def fault_point(settings: Settings, name: str) -> None:
    """Pause here when a test asked for it (cheap no-op otherwise)."""
    if settings.fault_inject and name in settings.fault_points:
        log.warning("fault_point_paused", point=name, seconds=settings.fault_inject_pause_s)
        await asyncio.sleep(settings.fault_inject_pause_s)
