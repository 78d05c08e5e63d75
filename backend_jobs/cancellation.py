"""ARQ jobs for event cancellation: the refund job (a bounded chunk that enqueues its own
continuation) and the watchdog cron that resumes a job whose worker died.

ARQ would retry a killed job only after its in-progress key expires (the worker's longest job
timeout, minutes), so resuming is ours: the job's heartbeat in `background_jobs` tells the
watchdog it stopped, and any number of concurrent runs are safe (see services/cancellation.py).
"""

from __future__ import annotations

from typing import Any

import structlog

from ticketing_app.bootstrap import Runtime

log = structlog.get_logger(__name__)

CHUNK_BUDGET_S = 20.0


async def cancel_event_refunds(ctx: dict[str, Any], job_id: int) -> str:
    rt: Runtime = ctx["rt"]
    finished = await rt.cancellation.run(job_id, budget_s=CHUNK_BUDGET_S)
    if finished:
        return "done"
    await rt.cancellation.enqueue(job_id)
    return "continued"


async def resume_cancellations(ctx: dict[str, Any]) -> int:
    rt: Runtime = ctx["rt"]
    return len(await rt.cancellation.resume_stale())
