"""The periodic work every serving process does beside its requests (the web and API
processes, and the worker): the hold sweeper (expired holds are released, so every viewer sees
them freed without anyone clicking) and the waiting rooms' pacer. Both scripts are atomic, so
any number of processes running them at once change nothing twice."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from ticketing_app.holds.store import HoldStore
from ticketing_app.observability import metrics
from ticketing_app.services.waiting_room import WaitingRoomService

log = structlog.get_logger(__name__)


async def sweep_once(holds: HoldStore) -> int:
    # On a Redis Cluster: events whose shard failed over are rebuilt from the database first.
    await holds.shards.maybe_check()
    released = 0
    for event_id in await holds.active_events():
        n, lapsed_tokens = await holds.sweep(event_id)
        released += n
        if lapsed_tokens:
            log.info("order_locks_lapsed", event_id=event_id, orders=len(lapsed_tokens))
    if released:
        metrics.HOLDS_EXPIRED.inc(released)
    return released


async def sweeper_loop(holds: HoldStore, interval_s: float,
                       stop: asyncio.Event | None = None) -> None:
    """Sweeps every `interval_s` (HOLD_SWEEP_INTERVAL_MS) until `stop` is set."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            await sweep_once(holds)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis down for a moment: keep trying
            log.warning("sweep_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)


async def waiting_room_loop(waiting: WaitingRoomService, interval_s: float,
                            stop: asyncio.Event | None = None) -> None:
    """Advances every open queue every `interval_s` (WAITING_ROOM_TICK_MS). The advance
    script is paced by the time since the last advance, so running it in many processes at
    once admits no more than running it in one."""
    stop = stop or asyncio.Event()
    with contextlib.suppress(Exception):
        await waiting.scripts.preload(waiting.redis)
    while not stop.is_set():
        try:
            await waiting.advance_all()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis down for a moment: keep trying
            log.warning("waiting_room_advance_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
