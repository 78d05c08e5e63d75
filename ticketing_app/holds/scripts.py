"""The hold scripts (`lua/*.lua`, each with `lua/_lib.lua` in front), loaded by the one Lua
loader (`clients/lua_scripts.py`)."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from ticketing_app.clients.lua_scripts import LuaScripts, lua_source

LUA_DIR = Path(__file__).parent / "lua"
SCRIPT_NAMES = (
    "hold", "release", "extend", "lock_order", "unlock_order", "confirm", "unsell", "block",
    "sweep", "snapshot", "load_event", "best_available", "release_all", "claim_office",
    "handover",
)


def script_source(name: str) -> str:
    return lua_source(LUA_DIR, name)


class Scripts(LuaScripts):
    """One registered script object per hold script."""

    def __init__(self, redis: Redis):
        super().__init__(redis, LUA_DIR, SCRIPT_NAMES)
