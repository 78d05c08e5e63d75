"""Lua scripts read from a directory once per process and run with EVALSHA: the one loader
of the hold scripts (`holds/lua`) and the waiting room's (`waiting/lua`).

Each script is its directory's `_lib.lua` (the helpers its scripts share) followed by its own
file. A script runs with EVALSHA and, on NOSCRIPT (a restarted Redis, or a replica promoted on a
cluster), once with EVAL, which routes by the first key like EVALSHA and leaves the script
cached on that node; so a Redis restart or a failover needs nothing from us. (redis-py's own
`Script` loads it with SCRIPT LOAD instead, which a cluster client sends to the primaries it
knows: right after a failover that list may still lack the promoted replica, and every later
EVALSHA on it failed again.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

LIB = "_lib.lua"


@cache
def lua_source(lua_dir: Path, name: str) -> str:
    """The script `name` as Redis runs it: the directory's library, then the script."""
    lib = (lua_dir / LIB).read_text()
    return lib + "\n" + (lua_dir / f"{name}.lua").read_text()


class RoutedScript:
    """EVALSHA, with EVAL of the source on NOSCRIPT (see the module's docstring)."""

    def __init__(self, redis: Redis, source: str) -> None:
        self.redis = redis
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        try:
            return await self.redis.evalsha(self.sha, len(keys), *keys, *args)  # type: ignore[misc]
        except NoScriptError:
            return await self.redis.eval(self.source, len(keys), *keys, *args)  # type: ignore[misc]


def register(redis: Redis, source: str) -> RoutedScript:
    """A script of `source` on `redis` (a plain Redis or a cluster)."""
    return RoutedScript(redis, source)


class LuaScripts:
    """One registered script object per Lua file."""

    def __init__(self, redis: Redis, lua_dir: Path, names: Sequence[str]):
        self.lua_dir = lua_dir
        self.names = tuple(names)
        self._scripts: dict[str, RoutedScript] = {
            name: register(redis, lua_source(lua_dir, name)) for name in self.names
        }

    def __getitem__(self, name: str) -> RoutedScript:
        return self._scripts[name]

    async def preload(self, redis: Redis) -> None:
        """Load every script up front so the first request does not pay for it."""
        for name in self.names:
            await redis.script_load(lua_source(self.lua_dir, name))
