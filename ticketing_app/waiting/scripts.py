"""The waiting-room Lua scripts, read from `lua/*.lua` once per process, run with EVALSHA."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

LUA_DIR = Path(__file__).parent / "lua"
SCRIPT_NAMES = ("join", "advance")


@cache
def script_source(name: str) -> str:
    lib = (LUA_DIR / "_lib.lua").read_text()
    return lib + "\n" + (LUA_DIR / f"{name}.lua").read_text()


class RoomScripts:
    def __init__(self, redis: Redis):
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(script_source(name)) for name in SCRIPT_NAMES
        }

    def __getitem__(self, name: str) -> AsyncScript:
        return self._scripts[name]

    async def preload(self, redis: Redis) -> None:
        for name in SCRIPT_NAMES:
            await redis.script_load(script_source(name))
