"""The benchmark runner's own rules: exit codes, percentiles, error accounting, and a scenario
module that does not exist yet is reported as skipped, never as passed."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from bench.loadgen import CONN_ERROR, TIMEOUT, Recorder, Samples, split
from bench.registry import entries
from bench.runner import EXIT_CHECK_FAILED, EXIT_COULD_NOT_RUN, EXIT_OK, Outcome, RunReport
from bench.scenario import ScenarioResult, Series


class _Queue:
    def put(self, _: object) -> None:
        pass


def _report(*results: ScenarioResult) -> RunReport:
    entry = entries(["stampede"])[0]
    return RunReport(datetime.now(UTC), [Outcome(entry, r) for r in results], 1.0, {})


def test_exit_code_correctness_beats_could_not_run() -> None:
    ok, failed = ScenarioResult(), ScenarioResult()
    ok.check("fine", True)
    failed.check("winners", False, "101 winners")
    error = ScenarioResult(status="error", reason="boom")
    assert _report(ok, ScenarioResult.skipped("no pg")).exit_code == EXIT_OK
    assert _report(ok, error).exit_code == EXIT_COULD_NOT_RUN
    assert _report(error, failed).exit_code == EXIT_CHECK_FAILED


def test_missing_scenario_module_is_skipped_not_passed() -> None:
    listed = {e.name: e for e in entries()}
    assert set(listed) == {"redis_ceiling", "original_load", "stampede", "hold_strategies",
                           "live_sync", "outbox_lag", "cpu_cost", "original_k6",
                           "pretix_compare", "unit_costs"}
    for e in listed.values():
        if e.scenario is None:
            assert "not yet available" in e.missing_reason
            outcome = Outcome(e, ScenarioResult.skipped(e.missing_reason))
            assert outcome.status == "skipped"


def test_series_percentiles_and_error_rate() -> None:
    s = Series.of("hold", list(range(1, 101)), duration_s=2.0, errors=5)
    out = s.summary()
    assert out["count"] == 100 and out["throughput_per_s"] == 50.0
    assert out["p50_ms"] == 50.5 and round(out["p99_ms"], 2) == 99.01
    assert out["error_rate"] == 0.05


def test_samples_count_timeouts_and_5xx_as_errors() -> None:
    rec = Recorder(["a", "b"], _Queue(), 0, t0=100.0)
    for status in (201, 409, 503, TIMEOUT, CONN_ERROR):
        rec.add("a", 100.5, 0.010, status)
    rec.add("b", 101.0, 0.020, 204)
    samples = Samples.merge([rec.payload()])
    m = samples.mask("a")
    assert int(Samples.is_error(samples.status[m]).sum()) == 3
    assert samples.status_counts(m) == {"201": 1, "409": 1, "503": 1, "timeout": 1,
                                        "conn_error": 1}
    assert np.allclose(samples.lat[samples.mask("b")], [20.0])
    assert split(1000, 3) == [(0, 334), (334, 667), (667, 1000)]
