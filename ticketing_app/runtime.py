"""The former name of the wiring module, kept so that code written against it (branches not
merged yet) keeps working: everything here is `ticketing_app.bootstrap`'s (and the Redis
client's, `clients/redis_client.py`). New code imports those."""

from __future__ import annotations

from ticketing_app.bootstrap import (
    Runtime,
    build_runtime,
    close_runtime,
    create_runtime,
    get_runtime,
    set_runtime,
)
from ticketing_app.clients.redis_client import redis_client, require_url

__all__ = ["Runtime", "build_runtime", "close_runtime", "create_runtime", "get_runtime",
           "redis_client", "require_url", "set_runtime"]
