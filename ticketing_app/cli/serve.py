"""Serving: the web app (pages, websocket and REST API on one port), the REST API alone, and
`up`, which runs the whole product on embedded defaults."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ticketing_app.cli.common import console, setup
from ticketing_app.cli.operations import migrate, seed_demo
from ticketing_app.settings import PROJECT_ROOT, get_settings, reset_settings_cache

if TYPE_CHECKING:
    from ticketing_app.settings import Settings


def api(
    port: Annotated[int, typer.Option(help="Port")] = 0,
    host: Annotated[str, typer.Option(help="Interface")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(help="Processes")] = 1,
    server: Annotated[str, typer.Option(help="granian or uvicorn (default: API_SERVER)")] = "",
) -> None:
    """The REST API alone (no web UI), for load tools and other clients. SIGTERM stops
    accepting connections and lets open requests finish (SHUTDOWN_GRACE_S)."""
    setup("api")
    from ticketing_app.observability.metrics import prepare_multiproc_dir

    settings = get_settings()
    prepare_multiproc_dir()
    server = server or settings.api_server
    port = port or settings.api_port
    target = "ticketing_app.lifespan:create_standalone_app"
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
    sink: Any = None
    try:
        if not settings.redis_url:
            v = embedded.valkey(workdir=data_dir / "valkey").start()
            children.append(v)
            env["REDIS_URL"] = f"redis://127.0.0.1:{v.port}/0"
            console.print(f"embedded Valkey on {v.port}")
        elif settings.redis_is_cluster and not settings.effective_jobs_redis_url:
            # ARQ and Reflex's state need a plain Redis beside the cluster.
            j = embedded.valkey(workdir=data_dir / "valkey-jobs").start()
            children.append(j)
            env["JOBS_REDIS_URL"] = f"redis://127.0.0.1:{j.port}/0"
            console.print(f"embedded Valkey for jobs (JOBS_REDIS_URL) on {j.port}")
        if not settings.kafka_bootstrap:
            k = embedded.tansu(workdir=data_dir / "tansu").start()
            children.append(k)
            env["KAFKA_BOOTSTRAP"] = f"127.0.0.1:{k.port}"
            console.print(f"embedded Kafka-protocol broker (Tansu) on {k.port}")
        if not settings.smtp_url:
            from ticketing_app.devmail import SmtpSink

            # A development mail sink, so the confirmation mail (and its link) can be read.
            sink = SmtpSink(directory=data_dir / "devmail").start()
            env["SMTP_URL"], env["DEV_MAIL_DIR"] = sink.url, str(data_dir / "devmail")
            console.print(f"development mail sink on {sink.port} "
                          f"(mails at http://localhost:{port}/api/dev/mail)")
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
        if sink is not None:
            sink.stop()
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
