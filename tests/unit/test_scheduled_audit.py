"""The scheduled audit's schedule and its metrics, without services: AUDIT_INTERVAL_S becomes
evenly spaced ARQ cron ticks (or none), and a stored result sets every kind's gauge."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from backend_jobs.scheduled_audit import audit_cron, cron_fields, export
from backend_jobs.worker import JobsWorkerSettings, build_worker
from ticketing_app.observability import metrics
from ticketing_app.services.audit import KINDS, SEAT_SOLD_TWICE
from ticketing_app.settings import Settings


@pytest.mark.parametrize(("interval", "fields"), [
    (15, {"second": {0, 15, 30, 45}}),
    (300, {"second": {0}, "minute": set(range(0, 60, 5))}),
    (7200, {"second": {0}, "minute": {0}, "hour": set(range(0, 24, 2))}),
])
def test_intervals_become_evenly_spaced_cron_ticks(interval: int, fields: dict[str, set[int]]
                                                  ) -> None:
    assert cron_fields(interval) == fields
    (job,) = audit_cron(Settings(audit_interval_s=interval))
    assert job.name == "scheduled_audit" and job.unique and job.max_tries == 1


def test_zero_switches_it_off_and_uneven_intervals_are_refused() -> None:
    assert audit_cron(Settings(audit_interval_s=0)) == []
    for bad in (7, 90, 4000, -1):
        with pytest.raises(ValueError, match=r"(?i)audit_interval_s"):
            Settings(audit_interval_s=bad)


def _built_in_its_own_loop(settings: Settings) -> Any:
    """The worker built inside a running loop, as `run_workers` builds it (arq binds the loop
    at construction), in a thread of its own: whatever this thread's loop state is (closed by
    an earlier `asyncio.run()`, or Playwright's running in the browser tests), it is not used."""
    async def build() -> Any:
        return build_worker(JobsWorkerSettings, settings)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, build()).result()


def test_the_jobs_worker_runs_it_on_the_configured_schedule() -> None:
    worker = _built_in_its_own_loop(Settings(audit_interval_s=30,
                                             redis_url="redis://127.0.0.1:1/0"))
    names = {c.name for c in worker.cron_jobs}
    assert "scheduled_audit" in names
    assert {"cron:expire_orders", "cron:resume_cancellations"} <= names
    off = _built_in_its_own_loop(Settings(audit_interval_s=0, redis_url="redis://127.0.0.1:1/0"))
    assert "scheduled_audit" not in {c.name for c in off.cron_jobs}


def test_a_worker_is_not_built_outside_a_running_loop() -> None:
    """Outside a loop arq would bind whatever loop the thread holds (none after an ended
    `asyncio.run()`, as in a full test run): refused with the reason instead."""
    with ThreadPoolExecutor(1) as pool, \
            pytest.raises(RuntimeError, match="inside the running event loop"):
        pool.submit(build_worker, JobsWorkerSettings,
                    Settings(redis_url="redis://127.0.0.1:1/0")).result()


def test_a_stored_result_sets_every_kind_zeros_included() -> None:
    export({"finishedAt": 1700000000.5, "durationS": 0.25, "counts": {SEAT_SOLD_TWICE: 2}})
    values = {kind: metrics.AUDIT_DISCREPANCIES.labels(kind=kind)._value.get()  # type: ignore[attr-defined]
              for kind in KINDS}
    assert values[SEAT_SOLD_TWICE] == 2 and sum(values.values()) == 2
    assert metrics.AUDIT_LAST_RUN._value.get() == 1700000000.5  # type: ignore[attr-defined]
    export({"finishedAt": 1700000300.0, "counts": {}})
    assert metrics.AUDIT_DISCREPANCIES.labels(kind=SEAT_SOLD_TWICE)._value.get() == 0  # type: ignore[attr-defined]
