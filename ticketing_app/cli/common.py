"""What the `ticketing` commands share: the console, logs and tracing, and running a
process until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from rich.console import Console

console = Console(stderr=True)


def setup(service: str) -> None:
    """Logs (JSON with LOG_JSON=true, stdlib routed through them) and tracing."""
    from ticketing_app.observability.setup import setup_observability

    setup_observability(service)

def run_until_signal(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `main(stop)`; SIGINT/SIGTERM set `stop` so the process drains and exits cleanly."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    import uvloop  # a C event loop: the background processes spend much of their CPU in it

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(runner())

def flush() -> None:
    from ticketing_app.observability.setup import flush_traces

    flush_traces()


async def wait_either(stop: asyncio.Event, task: asyncio.Task[Any]) -> None:
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({stopper, task}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        stopper.cancel()
        task.result()
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
