"""Runs the selected scenarios in order on one shared stack, reconciles after each, and
collects everything the report needs. Exit codes: 1 when a correctness check failed, 2 when
something could not run, 0 otherwise (speed never fails a run)."""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench.context import BenchContext
from bench.reconcile import Reconciliation, reconcile
from bench.registry import Entry
from bench.scenario import ScenarioResult

EXIT_OK, EXIT_CHECK_FAILED, EXIT_COULD_NOT_RUN = 0, 1, 2


@dataclass
class Outcome:
    entry: Entry
    result: ScenarioResult
    params: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    reconciliation: Reconciliation | None = None
    error: str = ""

    @property
    def status(self) -> str:
        return self.result.final_status()

    def to_json(self) -> dict[str, Any]:
        r = self.result
        return {
            "number": self.entry.number, "name": self.entry.name, "title": self.entry.title,
            "status": self.status, "reason": r.reason, "params": self.params,
            "duration_s": round(self.duration_s, 1),
            "series": [s.summary() for s in r.series], "metrics": r.metrics,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in r.checks],
            "reconciliation": self.reconciliation.to_json() if self.reconciliation else None,
            "notes": r.notes, "error": self.error,
        }


@dataclass
class RunReport:
    started_at: datetime
    outcomes: list[Outcome]
    duration_s: float
    stack_info: dict[str, Any]
    loadavg: dict[str, list[float]] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        if any(o.status == "failed" for o in self.outcomes):
            return EXIT_CHECK_FAILED
        if any(o.status == "error" for o in self.outcomes):
            return EXIT_COULD_NOT_RUN
        return EXIT_OK


async def run_entry(ctx: BenchContext, entry: Entry) -> Outcome:
    sc = entry.scenario
    if sc is None:
        return Outcome(entry, ScenarioResult.skipped(entry.missing_reason))
    params = dict(sc.params(ctx.quick))
    for key, raw in ctx.options.overrides.items():
        if key in params:  # typed like the scenario's own value; a list as a,b,c
            default = params[key]
            if default is None:
                params[key] = raw
            elif isinstance(default, list | tuple):
                params[key] = type(default)(x for x in raw.split(",") if x)
            else:
                params[key] = type(default)(raw)
    if sc.needs_postgres and not ctx.has_postgres and not ctx.options.api_url:
        return Outcome(entry, ScenarioResult.skipped(
            f"needs PostgreSQL, none reachable at --pg-url ({ctx.pg_problem})"), params)
    t0 = time.monotonic()
    outcome = Outcome(entry, ScenarioResult(), params)
    with ctx.scenario_progress(f"{entry.number}. {entry.title}"):
        try:
            if sc.needs_postgres and ctx.options.api_url:
                st = await ctx.stack()
                if st.backend != "postgres":
                    outcome.result = ScenarioResult.skipped(
                        "needs PostgreSQL; the deployment's DATABASE_URL is not PostgreSQL")
                    return outcome
            outcome.result = await sc.run(ctx, params)
        except Exception as exc:
            outcome.result = ScenarioResult(status="error", reason=f"{type(exc).__name__}: {exc}")
            outcome.error = traceback.format_exc()[-4000:]
            st0 = ctx.running_stack
            if st0 is not None:
                for name in ("api", "worker"):
                    tail = st0.log_tail(name, 1500)
                    if tail:
                        outcome.error += f"\n--- {name} log (tail) ---\n{tail}"
        if sc.needs_stack and outcome.result.status == "ok":
            ctx.status("reconciling Redis, the database and Kafka")
            try:
                st = await ctx.stack()
                rec = await reconcile(st.rt)
            except Exception as exc:
                rec = Reconciliation(available=True, ok=False,
                                     discrepancies=[f"reconciliation raised {exc!r}"])
            outcome.reconciliation = rec
            if rec.available:
                outcome.result.check("reconciliation (audit): Redis, database and Kafka agree",
                                     rec.ok, rec.summary())
            else:
                outcome.result.notes.append(f"reconciliation {rec.summary()}")
            if not rec.drained:
                outcome.result.notes.append(f"platform did not drain: {rec.drain_detail}")
    outcome.duration_s = time.monotonic() - t0
    return outcome


async def run_all(ctx: BenchContext, entries: list[Entry]) -> RunReport:
    started = datetime.now(UTC)
    t0 = time.monotonic()
    load_start = [round(x, 2) for x in os.getloadavg()]
    outcomes: list[Outcome] = []
    try:
        for entry in entries:
            outcomes.append(await run_entry(ctx, entry))
        stack_info: dict[str, Any] = {}
        st = ctx.running_stack
        if st is not None:
            stack_info = {"backend": st.backend, "api_url": st.api_url, "managed": st.managed,
                          "api_server": ctx.options.server if st.managed else "external"}
    finally:
        await ctx.close()
    return RunReport(started, outcomes, time.monotonic() - t0, stack_info,
                     {"start": load_start, "end": [round(x, 2) for x in os.getloadavg()]})
