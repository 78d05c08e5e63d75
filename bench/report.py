"""The outputs of a run: a table on the terminal, `results.json`, `latency.png`, and a
Markdown table for docs/bench.md."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.context import BenchOptions, machine_info
from bench.runner import RunReport

STATUS_STYLE = {"ok": "green", "failed": "bold red", "skipped": "yellow", "error": "bold red"}


def _ms(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def to_json(report: RunReport, options: BenchOptions) -> dict[str, Any]:
    return {
        "started_at": report.started_at.isoformat(),
        "duration_s": round(report.duration_s, 1),
        "mode": "quick" if options.quick else "full",
        "machine": {**machine_info(), "loadavg_1_5_15": report.loadavg},
        "stack": report.stack_info,
        "exit_code": report.exit_code,
        "scenarios": [o.to_json() for o in report.outcomes],
    }


def rows(data: dict[str, Any]) -> list[list[str]]:
    """One row per series (scenario, series, count, p50, p95, p99, throughput, errors)."""
    out = []
    for sc in data["scenarios"]:
        head = f"{sc['number']}. {sc['name']}"
        if sc["status"] in ("skipped", "error"):
            out.append([head, sc["status"].upper(), "", "", "", "", "", "", sc["reason"]])
            continue
        checks = sc["checks"]
        verdict = "ok" if all(c["ok"] for c in checks) else "CHECK FAILED"
        for i, s in enumerate(sc["series"]):
            out.append([
                head if i == 0 else "", s["label"], str(s["count"]), _ms(s.get("p50_ms")),
                _ms(s.get("p95_ms")), _ms(s.get("p99_ms")), f"{s['throughput_per_s']:,.0f}",
                f"{s['error_rate']:.2%}", verdict if i == 0 else "",
            ])
        if not sc["series"]:
            out.append([head, "", "", "", "", "", "", "", verdict])
    return out


HEADERS = ["scenario", "series", "n", "p50 ms", "p95 ms", "p99 ms", "per s", "errors",
           "checks"]


def print_table(console: Console, data: dict[str, Any]) -> None:
    table = Table(title=f"Benchmarks ({data['mode']}, {data['machine']['cores']} cores, "
                        f"{data['stack'].get('backend', 'no stack')})", show_lines=False)
    for h in HEADERS:
        table.add_column(h, justify="right" if h not in ("scenario", "series", "checks")
                         else "left", overflow="fold")
    for r in rows(data):
        table.add_row(*r)
    console.print(table)
    busy = busy_machine(data)
    if busy:
        console.print(f"[bold yellow]{busy}[/]")
    for sc in data["scenarios"]:
        style = STATUS_STYLE.get(sc["status"], "")
        console.print(f"[{style}]{sc['number']}. {sc['title']}: {sc['status']}[/]"
                      + (f" ({sc['reason']})" if sc["reason"] else ""))
        for k, v in sc["metrics"].items():
            console.print(f"    {k}: {v}")
        for c in sc["checks"]:
            mark = "[green]PASS[/]" if c["ok"] else "[bold red]FAIL[/]"
            console.print(f"    {mark} {c['name']}" + (f": {c['detail']}" if c["detail"] else ""))
        for n in sc["notes"]:
            console.print(f"    note: {n}")


def busy_machine(data: dict[str, Any]) -> str:
    """A warning when other work took a large share of the machine while we measured."""
    worst = 0.0
    for sc in data["scenarios"]:
        m = sc.get("metrics", {})
        worst = max(worst, float(m.get("other_load_cores") or 0.0))
    if worst < 0.5:
        return ""
    return (f"WARNING: other processes on this machine used up to {worst:.2f} of its "
            f"{data['machine']['cores']} cores while the benchmarks ran (load average "
            f"{data['machine'].get('loadavg_1_5_15', {})}): absolute latencies and rates are "
            "pessimistic; ratios measured in one run hold better.")


def markdown_table(data: dict[str, Any]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    busy = busy_machine(data)
    for r in rows(data):
        lines.append("| " + " | ".join(c.replace("|", "/") for c in r) + " |")
    if busy:
        lines += ["", f"**{busy}**"]
    return "\n".join(lines) + "\n"


def plot(data: dict[str, Any], path: Path) -> Path | None:
    """Latency at each percentile, one panel per scenario that measured something."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [sc for sc in data["scenarios"]
              if any(s.get("percentiles_ms") for s in sc["series"])]
    if not panels:
        return None
    cols = 2 if len(panels) > 1 else 1
    nrows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(7 * cols, 4.2 * nrows), squeeze=False)
    for ax, sc in zip(axes.flat, panels, strict=False):
        for s in sc["series"]:
            pts = s.get("percentiles_ms")
            if not pts:
                continue
            qs = [float(q) for q in pts]
            xs = [-math.log10(1 - q / 100) for q in qs]  # spreads the tail: 50, 90, 99, 99.9
            ax.plot(xs, [max(v, 1e-3) for v in pts.values()], marker="o", ms=3,
                    label=f"{s['label']} (n={s['count']:,})")
        ticks = [50, 90, 95, 99, 99.9]
        ax.set_xticks([-math.log10(1 - q / 100) for q in ticks], [f"p{q:g}" for q in ticks])
        ax.set_yscale("log")
        ax.set_ylabel("latency (ms)")
        ax.set_title(f"{sc['number']}. {sc['title']}", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    m = data["machine"]
    fig.suptitle(f"Latency by percentile ({data['mode']} run, {data['started_at'][:10]}, "
                 f"{m['cores']} cores)", fontsize=12)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write(data: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "results.json", "markdown": out_dir / "table.md"}
    paths["json"].write_text(json.dumps(data, indent=2, default=str) + "\n")
    paths["markdown"].write_text(markdown_table(data))
    png = plot(data, out_dir / "latency.png")
    if png:
        paths["png"] = png
    return paths
