"""Lua scripts read from a directory once per process and run with EVALSHA: the one loader
of the hold scripts (`holds/lua`) and the waiting room's (`waiting/lua`).

Each script is its directory's `_lib.lua` (the helpers its scripts share) followed by its own
file. redis-py's `Script` sends EVALSHA and, on NOSCRIPT (a restarted or failed-over Redis),
loads the source and retries, so a Redis restart needs nothing from us.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

LIB = "_lib.lua"


@cache
def lua_source(lua_dir: Path, name: str) -> str:
    """The script `name` as Redis runs it: the directory's library, then the script."""
    lib = (lua_dir / LIB).read_text()
    return lib + "\n" + (lua_dir / f"{name}.lua").read_text()


class LuaScripts:
    """One registered script object per Lua file."""

    def __init__(self, redis: Redis, lua_dir: Path, names: Sequence[str]):
        self.lua_dir = lua_dir
        self.names = tuple(names)
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(lua_source(lua_dir, name)) for name in self.names
        }

    def __getitem__(self, name: str) -> AsyncScript:
        return self._scripts[name]

    async def preload(self, redis: Redis) -> None:
        """Load every script up front so the first request does not pay for it."""
        for name in self.names:
            await redis.script_load(lua_source(self.lua_dir, name))
