"""`python -m bench` and `ticketing bench`: start what is needed, run the scenarios, print the
table, write results.json and latency.png. Exit 1 when a correctness check failed, 2 when it
could not run, 0 otherwise."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bench.context import DEFAULT_PG_URL, BenchContext, BenchOptions
from bench.registry import Entry, entries
from bench.runner import EXIT_COULD_NOT_RUN, RunReport, run_all

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def default_out(quick: bool) -> Path:
    if quick:
        return Path("artifacts/bench")
    return Path("bench/results") / datetime.now(UTC).strftime("%Y-%m-%d")


def run_bench(options: BenchOptions) -> int:
    console = Console(stderr=True)
    try:
        selected = entries(options.scenarios)
    except (ValueError, TypeError) as exc:
        console.print(f"[red]{exc}[/]")
        return EXIT_COULD_NOT_RUN
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        TimeElapsedColumn(), TextColumn("{task.fields[status]}"),
                        console=console, transient=False)
    ctx = BenchContext(options, console, progress)
    if ctx.pg_problem and not options.api_url:
        console.print(f"[yellow]PostgreSQL not reachable ({ctx.pg_problem}): running on SQLite; "
                      "the PostgreSQL-only parts are skipped[/]")
    from bench import report

    with progress:
        try:
            result = _run(ctx, selected)
        except Exception as exc:
            console.print(f"[bold red]could not run: {type(exc).__name__}: {exc}[/]")
            return EXIT_COULD_NOT_RUN
    data = report.to_json(result, options)
    paths = report.write(data, options.out_dir)
    out = Console()
    report.print_table(out if out.is_terminal else Console(width=130), data)
    console.print("results: " + ", ".join(str(p) for p in paths.values()))
    code = result.exit_code
    console.print({0: "[green]all correctness checks passed[/]",
                   1: "[bold red]a correctness check failed[/]",
                   2: "[bold red]something could not run[/]"}[code])
    return code


def _run(ctx: BenchContext, selected: list[Entry]) -> RunReport:
    import uvloop

    return uvloop.run(run_all(ctx, selected))


@app.command()
def main(
    quick: Annotated[bool, typer.Option("--quick", help="Small sizes, seconds each (CI)")] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Results directory (default artifacts/bench for --quick, "
                      "bench/results/<date> for a full run)")] = None,
    scenario: Annotated[list[str] | None, typer.Option(
        "--scenario", help="Run only this scenario (name or number); repeatable")] = None,
    pg_url: Annotated[str, typer.Option(
        "--pg-url", help="PostgreSQL admin URL; a fresh database is created and dropped")
    ] = DEFAULT_PG_URL,
    api_url: Annotated[str, typer.Option(
        "--api-url", help="Benchmark this running deployment instead of starting one (needs "
                          "its REDIS_URL and DATABASE_URL in the environment)")] = "",
    server: Annotated[str, typer.Option(
        "--server", help="ASGI server for the API the bench starts: granian or uvicorn")
    ] = "granian",
    keep_db: Annotated[bool, typer.Option("--keep-db", help="Keep the benchmark database")
                       ] = False,
    api_workers: Annotated[int, typer.Option(
        "--api-workers", help="API server processes (0: one per core)")
    ] = 0,
    param: Annotated[list[str] | None, typer.Option(
        "--param", help="KEY=VALUE: a scenario parameter instead of its default "
                        "(e.g. purchases=600); repeatable")] = None,
) -> None:
    """Benchmarks and load tests (see docs/bench.md)."""
    if server not in ("granian", "uvicorn"):
        raise typer.BadParameter("--server must be granian or uvicorn")
    options = BenchOptions(quick=quick, out_dir=out or default_out(quick),
                           scenarios=list(scenario or []), pg_url=pg_url, api_url=api_url,
                           server=server, keep_db=keep_db,
                           api_workers=api_workers or (os.cpu_count() or 1),
                           overrides=dict(p.split("=", 1) for p in param or [] if "=" in p))
    raise typer.Exit(run_bench(options))


def entry() -> None:
    app()


if __name__ == "__main__":
    entry()
