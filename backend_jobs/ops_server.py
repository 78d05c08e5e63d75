"""The worker's, relay's and consumers' own small HTTP endpoint (OPS_PORT): `/metrics` for
Prometheus and `/actuator/health` (+ `/liveness`, `/readiness`) for the orchestrator, in the
same event loop as the process's work, so a stuck loop fails the probe too."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Generator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ticketing_app.observability import metrics
from ticketing_app.services.health import Probe, health_report


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside a process that owns its signals: SIGTERM is the process's business."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def ops_app(probes: list[Probe]) -> Starlette:
    async def health(_: Request) -> JSONResponse:
        ready, body = await health_report(probes)
        return JSONResponse(body, status_code=200 if ready else 503)

    async def liveness(_: Request) -> JSONResponse:
        return JSONResponse({"status": "UP", "pid": os.getpid()})

    async def metrics_endpoint(_: Request) -> Response:
        data, content_type = metrics.exposition()
        return Response(data, media_type=content_type)

    return Starlette(routes=[
        Route("/metrics", metrics_endpoint),
        Route("/actuator/health", health),
        Route("/actuator/health/readiness", health),
        Route("/actuator/health/liveness", liveness),
    ])


class OpsServer:
    def __init__(self, probes: list[Probe], port: int, host: str = "0.0.0.0"):
        config = uvicorn.Config(ops_app(probes), host=host, port=port, log_config=None,
                                access_log=False, lifespan="off", loop="none")
        self.server = _EmbeddedServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> OpsServer:
        self._task = asyncio.create_task(self.server.serve(), name="ops-server")
        while not self.server.started:
            if self._task.done():
                self._task.result()  # raises the bind error
                raise RuntimeError("ops server exited at start")
            await asyncio.sleep(0.02)
        return self

    async def stop(self) -> None:
        if self._task is None:
            return
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._task, 5)
        self._task = None


DEPENDENCY_CHECK_INTERVAL_S = 5.0


async def check_dependencies(probes: list[Probe], interval_s: float) -> None:
    """Runs the probes on a timer, so `tk_dependency_up` (which the alert rules read) stays
    current whether or not an orchestrator calls the health endpoint."""
    while True:
        with contextlib.suppress(Exception):
            await health_report(probes)
        await asyncio.sleep(interval_s)


@contextlib.asynccontextmanager
async def ops_endpoint(probes: list[Probe], port: int, host: str = "0.0.0.0",
                       check_interval_s: float = DEPENDENCY_CHECK_INTERVAL_S,
                       ) -> AsyncIterator[None]:
    """Serve while the block runs, and check the dependencies every `check_interval_s`;
    nothing when `port` is 0."""
    if not port:
        yield
        return
    server = await OpsServer(probes, port, host).start()
    checks = asyncio.create_task(check_dependencies(probes, check_interval_s),
                                 name="dependency-checks")
    try:
        yield
    finally:
        checks.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await checks
        await server.stop()
