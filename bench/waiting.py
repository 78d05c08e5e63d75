"""Waiting for a client's state to reach a condition, woken by its change event rather than
polled: the live-sync clients (websocket and SSE) share it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable


async def until(check: Callable[[], bool], changed: asyncio.Event, timeout: float) -> bool:
    """Waits until `check()` is true, re-checking whenever `changed` is set; False on
    timeout."""
    deadline = time.monotonic() + timeout
    while not check():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), left)
    return True
