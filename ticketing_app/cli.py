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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ticketing_app.settings import PROJECT_ROOT, get_settings, reset_settings_cache

app = typer.Typer(help="High-concurrency seat ticketing.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
console = Console(stderr=True)


def _configure_logging() -> None:
    from ticketing_app.observability.logging import configure_logging

    configure_logging()


def _run_until_signal(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `main(stop)`; SIGINT/SIGTERM set `stop` so the process drains and exits cleanly."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(runner())


@app.command()
def migrate() -> None:
    """Upgrade the database to the newest schema (Alembic)."""
    from ticketing_app.db.migrate import upgrade

    settings = get_settings()
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
def worker(
    payments: Annotated[bool, typer.Option(help="Run the payments worker")] = True,
    jobs: Annotated[bool, typer.Option(help="Run the general jobs worker")] = True,
) -> None:
    """ARQ workers: payments (short timeouts) and general jobs (expiry, cancellations)."""
    _configure_logging()
    from backend_jobs.worker import run_workers

    async def main(stop: asyncio.Event) -> None:
        task = asyncio.create_task(run_workers(payments=payments, jobs=jobs))
        await _wait_either(stop, task)

    _run_until_signal(main)


@app.command()
def relay() -> None:
    """The transactional outbox relay to Kafka."""
    _configure_logging()

    async def main(stop: asyncio.Event) -> None:
        from backend_jobs.relay import OutboxRelay
        from ticketing_app.observability.tracing import configure_tracing
        from ticketing_app.runtime import create_runtime

        configure_tracing("ticketing-relay")
        rt = await create_runtime()
        r = OutboxRelay(rt)
        task = asyncio.create_task(r.run())
        try:
            await _wait_either(stop, task)
        finally:
            r.stop()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, 10)
            await rt.close()

    _run_until_signal(main)


@app.command()
def consumers() -> None:
    """Kafka consumers: the sales projection and notifications."""
    _configure_logging()

    async def main(stop: asyncio.Event) -> None:
        from backend_jobs.consumers import run_consumers
        from backend_jobs.mailer import mail_loop
        from ticketing_app.observability.tracing import configure_tracing
        from ticketing_app.runtime import create_runtime

        configure_tracing("ticketing-consumers")
        rt = await create_runtime()
        mailer = asyncio.create_task(mail_loop(rt, stop), name="mailer")
        try:
            await run_consumers(rt, stop=stop)
        finally:
            mailer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await mailer
            await rt.close()

    _run_until_signal(main)


@app.command()
def api(
    port: Annotated[int, typer.Option(help="Port")] = 0,
    host: Annotated[str, typer.Option(help="Interface")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(help="Processes")] = 1,
) -> None:
    """The REST API alone (no web UI), for load tools and other clients."""
    _configure_logging()
    import uvicorn

    settings = get_settings()
    uvicorn.run("ticketing_app.api.app:create_standalone_app", factory=True, host=host,
                port=port or settings.api_port, workers=workers, loop="uvloop",
                http="httptools", log_level="warning", access_log=False,
                timeout_graceful_shutdown=10, backlog=4096)


@app.command()
def web(
    port: Annotated[int, typer.Option(help="Port for pages, websocket and API")] = 0,
) -> None:
    """The Reflex web app (booking and admin) with the REST API, on one port."""
    settings = get_settings()
    env = {**os.environ, "REFLEX_USE_NPM": "1", "REFLEX_TELEMETRY_ENABLED": "false"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    port = port or settings.web_port
    cmd = [sys.executable, "-m", "reflex", "run", "--env", "prod", "--single-port",
           "--backend-port", str(port), "--frontend-port", str(port), "--loglevel", "warning"]
    raise SystemExit(subprocess.call(cmd, cwd=PROJECT_ROOT, env=env))


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
    env = dict(os.environ)
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
