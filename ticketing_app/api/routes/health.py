"""The original's `/actuator/health`, with liveness and readiness, and `/metrics`.

Liveness says the process serves requests (no dependency is consulted: a Redis outage must
not get every web process restarted). Readiness says it can sell: the database and Redis
answer. Kafka is not needed to sell (the outbox buffers), so it is not part of it; the full
report also shows the outbox backlog for that case.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from ticketing_app.api.deps import RuntimeDep
from ticketing_app.bootstrap import Runtime
from ticketing_app.observability import metrics
from ticketing_app.services.health import health_report, outbox_probe, web_probes

router = APIRouter(tags=["health"])
# Not ready: the report names the component that is down (not the standard error body).
NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"description": "a dependency is down",
          "content": {"application/json": {"schema": {"type": "object"}}}}}


async def dependency_status(rt: Runtime) -> dict[str, Any]:
    _, body = await health_report(web_probes(rt.db, rt.redis))
    return dict(body["components"])


@router.get("/actuator/health", responses=NOT_READY)
async def health(rt: RuntimeDep) -> JSONResponse:
    ready, body = await health_report([*web_probes(rt.db, rt.redis), outbox_probe(rt.db)])
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/actuator/health/liveness")
async def liveness() -> dict[str, Any]:
    """`pid` tells an operator (and the tests) which process answered."""
    return {"status": "UP", "pid": os.getpid()}


@router.get("/actuator/health/readiness", responses=NOT_READY)
async def readiness(rt: RuntimeDep) -> JSONResponse:
    ready, body = await health_report(web_probes(rt.db, rt.redis))
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint() -> Response:
    data, content_type = metrics.exposition()
    return Response(data, media_type=content_type)
