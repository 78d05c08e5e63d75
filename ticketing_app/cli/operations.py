"""The one-shot operator commands: migrations, demo data, admin accounts, the audit, replaying
the outbox, steering the simulated provider, the benchmarks."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.console import Console

from ticketing_app.cli.common import console
from ticketing_app.settings import get_settings


def migrate(
    check: Annotated[bool, typer.Option(
        "--check", help="Change nothing; exit 1 when migrations are pending")] = False,
) -> None:
    """Upgrade the database to the newest schema (Alembic). Migrations are expand-then-
    contract, so they apply while the previous version keeps serving (docs/operations.md)."""
    from ticketing_app.db.migrate import pending_revisions, upgrade

    settings = get_settings()
    if check:
        pending = pending_revisions(settings.effective_database_url)
        if pending:
            console.print(f"[yellow]pending migrations[/] {pending}")
            raise typer.Exit(1)
        console.print("[green]database at head[/]")
        return
    upgrade(settings.effective_database_url)
    console.print(f"[green]database at head[/] ({safe_url(settings.effective_database_url)})")

def seed_demo() -> None:
    """Create the demo events (safe to repeat)."""

    async def main() -> None:
        from ticketing_app.bootstrap import create_runtime
        from ticketing_app.services.seed import seed_demo as seed

        rt = await create_runtime()
        try:
            ids = await seed(rt.db, rt.admin)
        finally:
            await rt.close()
        console.print(f"[green]demo events[/] {ids}")

    asyncio.run(main())

def create_admin(
    username: Annotated[str, typer.Argument(help="The admin's login name")],
    reset: Annotated[bool, typer.Option("--reset", help="Set a new password for an "
                                        "existing admin (ends their sessions)")] = False,
    role: Annotated[str, typer.Option("--role", help="manager (everything) or door "
                                      "(check-in only)")] = "manager",
) -> None:
    """Create an admin account (or reset its password); the password is prompted for.
    `--role door` makes a door-staff account that may only check tickets in."""
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def main() -> None:
        from ticketing_app.bootstrap import create_runtime
        from ticketing_app.domain.errors import DomainError

        rt = await create_runtime()
        try:
            if reset:
                await rt.admin_auth.set_password(username, password)
            else:
                await rt.admin_auth.create_admin(username, password, role=role)
        except DomainError as exc:
            console.print(f"[red]{exc.message}[/]")
            raise SystemExit(1) from None
        finally:
            await rt.close()
        console.print(f"[green]admin {username!r} ({role}) "
                      f"{'updated' if reset else 'created'}[/]")

    asyncio.run(main())

def audit(
    event: Annotated[int | None, typer.Option("--event", help="Only this event")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    order_grace: Annotated[float, typer.Option(help="Seconds an order may stay CREATED past "
                                                    "its payment deadline")] = 30.0,
    payment_grace: Annotated[float, typer.Option(help="Seconds a payment may stay "
                                                      "PENDING")] = 60.0,
    outbox_grace: Annotated[float, typer.Option(help="Seconds an outbox row may stay "
                                                     "undelivered")] = 60.0,
    settle: Annotated[float, typer.Option(help="Look again after this many seconds; report "
                                               "only what persists (0: one look)")] = 1.0,
) -> None:
    """Reconcile Redis, the database and the Kafka-fed projection; exit 1 on any discrepancy."""
    import json

    from rich.table import Table

    async def main() -> Any:
        from ticketing_app.bootstrap import create_runtime

        rt = await create_runtime()
        try:
            return await rt.auditor.audit(event, order_grace_s=order_grace,
                                          payment_grace_s=payment_grace,
                                          outbox_grace_s=outbox_grace, settle_s=settle)
        finally:
            await rt.close()

    report = asyncio.run(main())
    out = Console()
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
    else:
        checked = ", ".join(f"{k} {v}" for k, v in report.checked.items())
        if report.ok:
            out.print(f"[bold green]audit clean[/] ({checked})")
        else:
            table = Table(title=f"{len(report.discrepancies)} discrepancies ({checked})")
            for column in ("kind", "event", "subject", "detail"):
                table.add_column(column)
            for d in report.discrepancies:
                table.add_row(d.kind, str(d.event_id or ""), d.subject, d.detail)
            out.print(table)
    raise typer.Exit(0 if report.ok else 1)

def replay(
    rebuild: Annotated[bool, typer.Option(
        "--rebuild", help="Recompute the sales projection from the outbox (no broker needed)")
    ] = False,
    everything: Annotated[bool, typer.Option(
        "--all", help="Re-publish every row, not only those the projection has not processed")
    ] = False,
    event: Annotated[int | None, typer.Option(help="Only this event's rows")] = None,
) -> None:
    """Replay the outbox: re-publish rows to Kafka (consumers de-duplicate), or rebuild the
    projection from it."""

    async def main() -> None:
        from backend_jobs.replay import rebuild_projection, requeue
        from ticketing_app.bootstrap import create_runtime

        rt = await create_runtime()
        try:
            if rebuild:
                n = await rebuild_projection(rt)
                console.print(f"[green]projection rebuilt[/] from {n} outbox rows")
            else:
                n = await requeue(rt, everything=everything, event_id=event)
                console.print(f"[green]{n} outbox rows queued[/] for the relay to publish again")
        finally:
            await rt.close()

    asyncio.run(main())

def provider_mode(
    mode: Annotated[str, typer.Argument(help="success | fail | hang | random")],
) -> None:
    """Steer the simulated payment provider for every worker at once (demos, drills)."""
    if mode not in ("success", "fail", "hang", "random"):
        raise typer.BadParameter("mode is one of success, fail, hang, random")

    async def main() -> None:
        from backend_jobs.provider import MODE_KEY
        from ticketing_app.bootstrap import create_runtime

        rt = await create_runtime()
        try:
            if mode == "random":
                await rt.jobs_redis.delete(MODE_KEY)
            else:
                await rt.jobs_redis.set(MODE_KEY, mode)
        finally:
            await rt.close()
        console.print(f"simulated provider: {mode}")

    asyncio.run(main())

def bench(ctx: typer.Context) -> None:
    """Benchmarks and load tests, the same as `python -m bench` (`ticketing bench --help`)."""
    from bench.cli import app as bench_app

    bench_app(ctx.args, prog_name="ticketing bench")

def safe_url(url: str) -> str:
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
