"""The catalog's per-event cache: a burst of misses runs one load, an expired entry is served
while one reload runs, and a forgotten key never keeps a load that started before."""

from __future__ import annotations

import asyncio

from ticketing_app.services.catalog import SharedCache


class Loader:
    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()

    async def __call__(self, key: int) -> str:
        self.calls += 1
        n = self.calls
        await self.gate.wait()
        return f"{key}-v{n}"


async def test_concurrent_misses_share_one_load() -> None:
    load = Loader()
    cache = SharedCache[str](60, load)
    waiters = [asyncio.create_task(cache.get(7)) for _ in range(100)]
    await asyncio.sleep(0)
    load.gate.set()
    assert set(await asyncio.gather(*waiters)) == {"7-v1"}
    assert load.calls == 1


async def test_expired_entry_is_served_while_one_reload_runs() -> None:
    load = Loader()
    load.gate.set()
    cache = SharedCache[str](0.0, load)  # every entry is expired at once
    assert await cache.get(1) == "1-v1"
    load.gate.clear()
    stale = await asyncio.gather(*(cache.get(1) for _ in range(50)))
    assert set(stale) == {"1-v1"}  # nobody waited for the reload
    assert load.calls == 2  # and only one reload started
    load.gate.set()
    await asyncio.sleep(0.01)
    assert await cache.get(1) == "1-v2"


async def test_forget_drops_a_load_that_started_before() -> None:
    load = Loader()
    cache = SharedCache[str](60, load)
    first = asyncio.create_task(cache.get(3))
    await asyncio.sleep(0)
    cache.forget(3)  # e.g. an admin changed the layout while we were reading it
    load.gate.set()
    assert await first == "3-v1"
    assert await cache.get(3) == "3-v2"  # the pre-change value was not kept


async def test_fresh_always_loads_and_failures_reach_the_caller() -> None:
    calls = 0

    async def flaky(key: int) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise LookupError("db away")
        return "ok"

    cache = SharedCache[str](60, flaky)
    try:
        await cache.get(1)
        raise AssertionError("the failure must reach the caller")
    except LookupError:
        pass
    assert await cache.get(1) == "ok"
    assert await cache.get(1, fresh=True) == "ok"
    assert calls == 3
