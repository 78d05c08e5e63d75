"""The `ticketing` command: `up` runs everything on embedded defaults; each part also runs
alone for production (`web`, `api`, `worker`, `relay`, `consumers`, `migrate`, `seed-demo`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from ticketing_app.settings import PROJECT_ROOT, get_settings, reset_settings_cache

if TYPE_CHECKING:
    from ticketing_app.settings import Settings

app = typer.Typer(help="High-concurrency seat ticketing.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
console = Console(stderr=True)


def _setup(service: str) -> None:
    """Logs (JSON with LOG_JSON=true, stdlib routed through them) and tracing."""
    from ticketing_app.observability.setup import setup_observability

    setup_observability(service)


def _run_until_signal(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `main(stop)`; SIGINT/SIGTERM set `stop` so the process drains and exits cleanly."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    import uvloop  # a C event loop: the background processes spend much of their CPU in it

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(runner())


@app.command()
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
    console.print(f"[green]database at head[/] ({_safe_url(settings.effective_database_url)})")


@app.command("seed-demo")
def seed_demo() -> None:
    """Create the demo events (safe to repeat)."""

    async def main() -> None:
        from ticketing_app.runtime import create_runtime
        from ticketing_app.services.seed import seed_demo as seed

        rt = await create_runtime()
        try:
            ids = await seed(rt)
        finally:
            await rt.close()
        console.print(f"[green]demo events[/] {ids}")

    asyncio.run(main())


@app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Argument(help="The admin's login name")],
    reset: Annotated[bool, typer.Option("--reset", help="Set a new password for an "
                                        "existing admin (ends their sessions)")] = False,
) -> None:
    """Create an admin account (or reset its password); the password is prompted for."""
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def main() -> None:
        from ticketing_app.domain.errors import DomainError
        from ticketing_app.runtime import create_runtime

        rt = await create_runtime()
        try:
            if reset:
                await rt.admin_auth.set_password(username, password)
            else:
                await rt.admin_auth.create_admin(username, password)
        except DomainError as exc:
            console.print(f"[red]{exc.message}[/]")
            raise SystemExit(1) from None
        finally:
            await rt.close()
        console.print(f"[green]admin {username!r} {'updated' if reset else 'created'}[/]")

    asyncio.run(main())


@app.command()
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

    from ticketing_app.services.audit import audit as run_audit

    async def main() -> Any:
        from ticketing_app.runtime import create_runtime

        rt = await create_runtime()
        try:
            return await run_audit(rt, event, order_grace_s=order_grace,
                                   payment_grace_s=payment_grace, outbox_grace_s=outbox_grace,
                                   settle_s=settle)
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


@app.command()
def worker(
    payments: Annotated[bool, typer.Option(help="Run the payments worker")] = True,
    jobs: Annotated[bool, typer.Option(help="Run the general jobs worker")] = True,
) -> None:
    """ARQ workers: payments (short timeouts) and general jobs (expiry, cancellations).
    SIGTERM drains running jobs (SHUTDOWN_GRACE_S) before exiting."""
    _setup("worker")

    async def main(stop: asyncio.Event) -> None:
        from backend_jobs.ops_server import ops_endpoint
        from backend_jobs.worker import report_queue_depth, run_workers
        from ticketing_app.observability.health import db_probe, redis_probe
        from ticketing_app.runtime import create_runtime

        settings = get_settings()
        rt = await create_runtime()  # for probes and gauges; connects lazily
        depth = asyncio.create_task(report_queue_depth(rt, stop))
        try:
            async with ops_endpoint([redis_probe(rt), db_probe(rt)], settings.ops_port,
                                    settings.ops_host):
                await run_workers(payments=payments, jobs=jobs, stop=stop)
        finally:
            stop.set()
            await depth
            await rt.close()
            _flush()

    _run_until_signal(main)


@app.command()
def relay() -> None:
    """The transactional outbox relay to Kafka. Ready when Kafka answers."""
    _setup("relay")

    async def main(stop: asyncio.Event) -> None:
        from backend_jobs.ops_server import ops_endpoint
        from backend_jobs.relay import OutboxRelay, report_backlog
        from ticketing_app.observability.health import KafkaProbe, db_probe
        from ticketing_app.runtime import create_runtime

        settings = get_settings()
        rt = await create_runtime()
        kafka = KafkaProbe(settings)
        r = OutboxRelay(rt)
        task = asyncio.create_task(r.run())
        backlog = asyncio.create_task(report_backlog(r, stop))
        try:
            async with ops_endpoint([kafka.probe(), db_probe(rt, required=False)],
                                    settings.ops_port, settings.ops_host):
                await _wait_either(stop, task)
        finally:
            stop.set()
            r.stop()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, 10)
            await backlog
            await kafka.close()
            await rt.close()
            _flush()

    _run_until_signal(main)


@app.command()
def consumers() -> None:
    """Kafka consumers: the sales projection and notifications. Ready when Kafka answers."""
    _setup("consumers")

    async def main(stop: asyncio.Event) -> None:
        from backend_jobs.consumers import run_consumers
        from backend_jobs.mailer import mail_loop
        from backend_jobs.ops_server import ops_endpoint
        from ticketing_app.observability.health import KafkaProbe, db_probe
        from ticketing_app.runtime import create_runtime

        settings = get_settings()
        rt = await create_runtime()
        kafka = KafkaProbe(settings)
        mailer = asyncio.create_task(mail_loop(rt, stop), name="mailer")  # SMTP_URL delivery
        try:
            async with ops_endpoint([kafka.probe(), db_probe(rt, required=False)],
                                    settings.ops_port, settings.ops_host):
                await run_consumers(rt, stop=stop)
        finally:
            mailer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await mailer
            await kafka.close()
            await rt.close()
            _flush()

    _run_until_signal(main)


def _flush() -> None:
    from ticketing_app.observability.setup import flush_traces

    flush_traces()


@app.command()
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
        from ticketing_app.runtime import create_runtime

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


@app.command("provider-mode")
def provider_mode(
    mode: Annotated[str, typer.Argument(help="success | fail | hang | random")],
) -> None:
    """Steer the simulated payment provider for every worker at once (demos, drills)."""
    if mode not in ("success", "fail", "hang", "random"):
        raise typer.BadParameter("mode is one of success, fail, hang, random")

    async def main() -> None:
        from backend_jobs.provider import MODE_KEY
        from ticketing_app.runtime import create_runtime

        rt = await create_runtime()
        try:
            if mode == "random":
                await rt.redis.delete(MODE_KEY)
            else:
                await rt.redis.set(MODE_KEY, mode)
        finally:
            await rt.close()
        console.print(f"simulated provider: {mode}")

    asyncio.run(main())


@app.command()
def api(
    port: Annotated[int, typer.Option(help="Port")] = 0,
    host: Annotated[str, typer.Option(help="Interface")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(help="Processes")] = 1,
    server: Annotated[str, typer.Option(help="granian or uvicorn (default: API_SERVER)")] = "",
) -> None:
    """The REST API alone (no web UI), for load tools and other clients. SIGTERM stops
    accepting connections and lets open requests finish (SHUTDOWN_GRACE_S)."""
    _setup("api")
    from ticketing_app.observability.metrics import prepare_multiproc_dir

    settings = get_settings()
    prepare_multiproc_dir()
    server = server or settings.api_server
    port = port or settings.api_port
    target = "ticketing_app.api.app:create_standalone_app"
    if server == "granian":
        from granian import Granian
        from granian.constants import Interfaces, Loops

        # As web_server.py: seat streams are requests that last, on top of the backlog.
        Granian(target, factory=True, address=host, port=port, workers=workers,
                interface=Interfaces.ASGI, loop=Loops.uvloop, log_enabled=False,
                websockets=False, backlog=4096, backpressure=4096 + settings.sse_max_clients,
                workers_kill_timeout=int(settings.shutdown_grace_s)).serve()
        return
    if server != "uvicorn":
        raise typer.BadParameter("--server must be granian or uvicorn")
    import uvicorn

    uvicorn.run(target, factory=True, host=host, port=port, workers=workers, loop="uvloop",
                http="httptools", log_level="warning", access_log=False, log_config=None,
                timeout_graceful_shutdown=int(settings.shutdown_grace_s), backlog=4096)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
             add_help_option=False)
def bench(ctx: typer.Context) -> None:
    """Benchmarks and load tests, the same as `python -m bench` (`ticketing bench --help`)."""
    from bench.cli import app as bench_app

    bench_app(ctx.args, prog_name="ticketing bench")


@app.command()
def web(
    port: Annotated[int, typer.Option(help="Port for pages, websocket and API")] = 0,
    prebuilt: Annotated[bool, typer.Option(
        "--prebuilt", help="Serve the frontend already compiled by `reflex export "
        "--frontend-only --no-zip` (a container image) instead of building it at start")] = False,
    backend_only: Annotated[bool, typer.Option(
        "--backend-only", help="The websocket, state and REST API without pages (load tools, "
                               "benchmarks): no frontend is built")] = False,
) -> None:
    """The Reflex web app (booking and admin) with the REST API, on one port (WEB_HOST), served
    by WEB_WORKERS processes (one per core by default; `ticketing_app/web_server.py`).

    Without `--prebuilt` the frontend is compiled first (a minute or more the first time). The
    process then becomes the server (exec), so SIGTERM reaches it directly: it stops accepting,
    lets requests finish and closes websockets, whose browsers reconnect (to another replica
    behind the load balancer, or to this one's successor)."""
    from ticketing_app.observability.metrics import prepare_multiproc_dir

    settings = get_settings()
    port = port or settings.web_port
    env = web_env(settings, port, {**os.environ, "REFLEX_USE_NPM": "1",
                                   "REFLEX_TELEMETRY_ENABLED": "false"})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if settings.log_json:
        env.setdefault("REFLEX_LOG_JSON", "true")
    prepare_multiproc_dir()
    os.chdir(PROJECT_ROOT)
    if not prebuilt and not backend_only:
        console.print("compiling the frontend ...")
        subprocess.run([sys.executable, "-m", "reflex", "export", "--frontend-only", "--no-zip",
                        "--env", "prod", "--loglevel", "warning"], env=env, check=True)
    cmd = [sys.executable, "-m", "ticketing_app.web_server", settings.web_host, str(port)]
    if backend_only:
        cmd.append("--backend-only")
    os.execvpe(cmd[0], cmd, env)


def web_env(settings: Settings, port: int, environ: Mapping[str, str]) -> dict[str, str]:
    """The web app's environment: the compiled pages open their websocket at PUBLIC_URL, so
    unless PUBLIC_URL is set explicitly it is the port the app is told to serve on (not the
    default's 3000: `--port 3111` pages showed "Cannot connect to server")."""
    env = dict(environ)
    if "public_url" not in settings.model_fields_set:
        env["PUBLIC_URL"] = f"http://localhost:{port}"
    return env


def up_child_env(settings: Settings, environ: Mapping[str, str], port: int) -> dict[str, str]:
    """The environment of the processes `up` starts. They run in the project's directory, not
    the caller's: DATA_DIR goes to them already resolved (absolute); PUBLIC_URL as `web_env`."""
    return web_env(settings, port, {**environ, "DATA_DIR": str(settings.data_dir)})


@app.command()
def up(
    port: Annotated[int, typer.Option(help="Web port")] = 3000,
    with_web: Annotated[bool, typer.Option("--web/--no-web", help="Start the web app")] = True,
) -> None:
    """Everything on embedded defaults: Valkey, the Kafka-protocol broker, SQLite, demo data,
    the worker, the relay, the consumers and the web app. Ctrl-C stops it all."""
    from ticketing_app import embedded

    settings = get_settings()
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    children: list[embedded.ChildProcess] = []
    env = up_child_env(settings, os.environ, port)
    try:
        if not settings.redis_url:
            v = embedded.valkey(workdir=data_dir / "valkey").start()
            children.append(v)
            env["REDIS_URL"] = f"redis://127.0.0.1:{v.port}/0"
            console.print(f"embedded Valkey on {v.port}")
        if not settings.kafka_bootstrap:
            k = embedded.tansu(workdir=data_dir / "tansu").start()
            children.append(k)
            env["KAFKA_BOOTSTRAP"] = f"127.0.0.1:{k.port}"
            console.print(f"embedded Kafka-protocol broker (Tansu) on {k.port}")
        os.environ.update(env)
        reset_settings_cache()
        migrate()
        seed_demo()
        me = [sys.executable, "-m", "ticketing_app.cli"]
        logs = data_dir / "logs"
        for name in ("worker", "relay", "consumers"):
            children.append(embedded.ChildProcess(name, [*me, name], 0, logs / f"{name}.log",
                                                  env=env, cwd=PROJECT_ROOT).start(wait=False))
        if with_web:
            web_proc = embedded.ChildProcess("web", [*me, "web", "--port", str(port)], port,
                                             logs / "web.log", env=env, cwd=PROJECT_ROOT)
            children.append(web_proc.start(wait=False))
            console.print("building and starting the web app (first build takes a few minutes;"
                          f" log: {logs / 'web.log'}) ...")
            _wait_http(f"http://127.0.0.1:{port}/ping", timeout=900, proc=web_proc)
            console.print(f"[bold green]ready[/]: booking http://localhost:{port}/  "
                          f"admin http://localhost:{port}/admin  "
                          f"API http://localhost:{port}/api/docs")
        else:
            console.print("[bold green]ready[/] (no web app)")
        _supervise(children)
    finally:
        for child in reversed(children):
            child.stop()
        console.print("stopped")


def _wait_http(url: str, timeout: float, proc: Any) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.running:
            raise SystemExit(f"{proc.name} exited; see {proc.log_path}")
        with contextlib.suppress(Exception):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(1)
    raise SystemExit(f"{url} did not answer within {timeout}s")


def _supervise(children: list[Any]) -> None:
    stop = {"flag": False}

    def _stop(*_: Any) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not stop["flag"]:
        for c in children:
            if not c.running:
                console.print(f"[red]{c.name} exited[/] (log: {c.log_path}); stopping")
                return
        time.sleep(0.5)


async def _wait_either(stop: asyncio.Event, task: asyncio.Task[Any]) -> None:
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({stopper, task}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        stopper.cancel()
        task.result()
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def _safe_url(url: str) -> str:
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def main() -> None:
    app()


if __name__ == "__main__":
    main()
