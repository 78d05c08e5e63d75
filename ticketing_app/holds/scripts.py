"""The Lua scripts, read from `lua/*.lua` once per process and run with EVALSHA.

redis-py's `Script` sends EVALSHA and, on NOSCRIPT (a restarted or failed-over Redis),
loads the source and retries, so a Redis restart needs nothing from us.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

LUA_DIR = Path(__file__).parent / "lua"
SCRIPT_NAMES = (
    "hold", "release", "extend", "lock_order", "unlock_order", "confirm", "unsell", "block",
    "sweep", "snapshot", "load_event", "best_available", "release_all",
)


@cache
def script_source(name: str) -> str:
    lib = (LUA_DIR / "_lib.lua").read_text()
    return lib + "\n" + (LUA_DIR / f"{name}.lua").read_text()


class Scripts:
    """One registered script object per Lua file."""

    def __init__(self, redis: Redis):
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(script_source(name)) for name in SCRIPT_NAMES
        }

    def __getitem__(self, name: str) -> AsyncScript:
        return self._scripts[name]

    async def preload(self, redis: Redis) -> None:
        """Load every script up front so the first request does not pay for it."""
        for name in SCRIPT_NAMES:
            await redis.script_load(script_source(name))
