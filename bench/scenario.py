"""The scenario interface: every scenario is a module under `bench/scenarios/` that defines
`SCENARIO = Scenario(...)`.

A scenario gets a `BenchContext` (the running stack, options, progress) and its parameters
(`quick` for the CI smoke run, `full` for the real run), and returns a `ScenarioResult` with
latency series (percentiles are computed here, in one place), free-form metrics (ratios), and
correctness checks. Only a failed check fails the run; speed never does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from bench.context import BenchContext

Status = Literal["ok", "failed", "skipped", "error"]
PERCENTILE_GRID = (1, 5, 10, 25, 50, 75, 90, 95, 98, 99, 99.5, 99.9)


@dataclass
class Series:
    """One latency series (an endpoint, a strategy, a session count) measured in one window.

    Every attempt has a sample (a timeout's sample is the time until it gave up). `errors` are
    what the scenario counts as errors (5xx, timeouts, refused connections); expected business
    answers such as a 409 for a seat someone else holds are not errors.
    """

    name: str
    latencies_ms: np.ndarray
    duration_s: float
    errors: int = 0
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, latencies_ms: Sequence[float] | np.ndarray, duration_s: float,
           errors: int = 0, label: str = "", **extra: Any) -> Series:
        return cls(name, np.asarray(latencies_ms, dtype=np.float64), duration_s, errors, label,
                   dict(extra))

    @property
    def count(self) -> int:
        return int(self.latencies_ms.size)

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.count else float("nan")

    @property
    def throughput(self) -> float:
        return self.count / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "label": self.label or self.name, "count": self.count,
            "errors": self.errors, "error_rate": round(self.error_rate, 6),
            "duration_s": round(self.duration_s, 3),
            "throughput_per_s": round(self.throughput, 1),
        }
        if self.count:
            out.update({
                "p50_ms": round(self.pct(50), 3), "p95_ms": round(self.pct(95), 3),
                "p99_ms": round(self.pct(99), 3),
                "max_ms": round(float(self.latencies_ms.max()), 3),
                "mean_ms": round(float(self.latencies_ms.mean()), 3),
                "percentiles_ms": {str(q): round(self.pct(q), 3) for q in PERCENTILE_GRID},
            })
        out.update(self.extra)
        return out


@dataclass
class SummarySeries(Series):
    """A series known by a load tool's summary (its percentiles and count), not by every
    sample: k6 reports these without writing a line per request."""

    points: dict[float, float] = field(default_factory=dict)  # percentile -> ms (100 = max)
    n: int = 0
    mean_ms: float = float("nan")

    @classmethod
    def of_summary(cls, name: str, count: int, duration_s: float, points: dict[float, float],
                   errors: int = 0, label: str = "", mean_ms: float = float("nan"),
                   **extra: Any) -> SummarySeries:
        return cls(name, np.empty(0), duration_s, errors, label, dict(extra), dict(points),
                   int(count), mean_ms)

    @property
    def count(self) -> int:
        return self.n

    def pct(self, q: float) -> float:
        return self.points.get(float(q), float("nan"))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "label": self.label or self.name, "count": self.count,
            "errors": self.errors, "error_rate": round(self.error_rate, 6),
            "duration_s": round(self.duration_s, 3),
            "throughput_per_s": round(self.throughput, 1),
        }
        if self.count and self.points:
            known = {q: v for q, v in sorted(self.points.items()) if q < 100}
            out.update({
                "p50_ms": round(self.pct(50), 3), "p95_ms": round(self.pct(95), 3),
                "p99_ms": round(self.pct(99), 3), "max_ms": round(self.pct(100), 3),
                "mean_ms": round(self.mean_ms, 3),
                "percentiles_ms": {f"{q:g}": round(v, 3) for q, v in known.items()},
            })
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class Check:
    """A correctness check: the run fails (exit 1) when one is not ok."""

    name: str
    ok: bool
    detail: str = ""


@dataclass
class ScenarioResult:
    series: list[Series] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    status: Status = "ok"
    reason: str = ""  # why it was skipped or could not run

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, bool(ok), detail))
        return bool(ok)

    @classmethod
    def skipped(cls, reason: str) -> ScenarioResult:
        return cls(status="skipped", reason=reason)

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def final_status(self) -> Status:
        if self.status in ("skipped", "error"):
            return self.status
        return "failed" if self.failed_checks else "ok"


Runner = Callable[["BenchContext", Mapping[str, Any]], Awaitable[ScenarioResult]]


@dataclass(frozen=True)
class Scenario:
    """What a scenario module exports as `SCENARIO`."""

    number: int
    name: str  # the --scenario name, also the module name
    title: str
    run: Runner
    quick: Mapping[str, Any] = field(default_factory=dict)
    full: Mapping[str, Any] = field(default_factory=dict)
    needs_postgres: bool = False  # skipped (and said so) when no PostgreSQL is reachable
    needs_stack: bool = True  # False: brings its own services (and no reconciliation)

    def params(self, quick: bool) -> Mapping[str, Any]:
        return self.quick if quick else self.full
