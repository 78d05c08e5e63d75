"""The original's `/actuator/health`, with liveness and readiness, and `/metrics`."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from ticketing_app.api.deps import RuntimeDep
from ticketing_app.runtime import Runtime

router = APIRouter(tags=["health"])


async def _check(coro: Any, timeout: float = 2.0) -> dict[str, str]:
    try:
        await asyncio.wait_for(coro, timeout)
        return {"status": "UP"}
    except Exception as exc:
        return {"status": "DOWN", "error": type(exc).__name__}


async def _db_ping(rt: Runtime) -> None:
    async with rt.db.read_sessions() as s:
        await s.execute(text("SELECT 1"))


async def dependency_status(rt: Runtime) -> dict[str, dict[str, str]]:
    db, redis = await asyncio.gather(_check(_db_ping(rt)), _check(rt.redis.ping()))
    return {"db": db, "redis": redis}


@router.get("/actuator/health")
async def health(rt: RuntimeDep) -> JSONResponse:
    """Ready when the database and Redis answer; Kafka is not needed to sell (the outbox
    buffers), so it is not part of the web app's readiness."""
    components = await dependency_status(rt)
    up = all(c["status"] == "UP" for c in components.values())
    return JSONResponse({"status": "UP" if up else "DOWN", "components": components},
                        status_code=200 if up else 503)


@router.get("/actuator/health/liveness")
async def liveness() -> dict[str, str]:
    return {"status": "UP"}


@router.get("/actuator/health/readiness")
async def readiness(rt: RuntimeDep) -> JSONResponse:
    return await health(rt)


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
