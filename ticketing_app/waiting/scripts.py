"""The waiting-room scripts (`lua/*.lua`, each with `lua/_lib.lua` in front), loaded by the one
Lua loader (`clients/lua_scripts.py`)."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from ticketing_app.clients.lua_scripts import LuaScripts

LUA_DIR = Path(__file__).parent / "lua"
SCRIPT_NAMES = ("join", "advance")


class RoomScripts(LuaScripts):
    def __init__(self, redis: Redis):
        super().__init__(redis, LUA_DIR, SCRIPT_NAMES)
