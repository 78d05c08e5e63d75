"""Timed HTTP calls for load processes: every attempt becomes one sample."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.loadgen import CONN_ERROR, TIMEOUT, Recorder


def session(base_url: str, connections: int, timeout_s: float) -> aiohttp.ClientSession:
    """Keep-alive connections, one per concurrent user; nothing queues inside the client."""
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections,
                                     keepalive_timeout=60, force_close=False, ttl_dns_cache=None)
    return aiohttp.ClientSession(base_url, connector=connector,
                                 timeout=aiohttp.ClientTimeout(total=timeout_s),
                                 json_serialize=json.dumps)


@dataclass
class Reply:
    status: int  # the HTTP status, or TIMEOUT / CONN_ERROR
    body: Any = None  # parsed JSON, or None
    trace_id: str = ""  # the Trace-Id header


async def call(rec: Recorder, http: aiohttp.ClientSession, endpoint: str, method: str,
               url: str, **kw: Any) -> Reply:
    wall = time.time()
    t0 = time.perf_counter()
    body: Any = None
    trace_id = ""
    try:
        async with http.request(method, url, **kw) as resp:
            raw = await resp.read()
            status = resp.status
            trace_id = resp.headers.get("Trace-Id", "")
        if raw and status != 204:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
    except TimeoutError:
        status = TIMEOUT
    except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError):
        status = CONN_ERROR
    rec.add(endpoint, wall, time.perf_counter() - t0, status)
    return Reply(status, body, trace_id)
