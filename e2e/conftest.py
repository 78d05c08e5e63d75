"""End-to-end fixtures: the whole product on embedded services (SQLite, Valkey, the
Kafka-protocol broker, worker, relay, consumers and the Reflex web app with the REST API on one
port), driven by a real Chromium through pytest-playwright.

Screenshots for the README land in E2E_ARTIFACTS (default `artifacts/e2e`).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ticketing_app.embedded import ChildProcess, free_port
from ticketing_app.settings import PROJECT_ROOT
from ticketing_app.stack import Stack

ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", PROJECT_ROOT / "artifacts" / "e2e"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
E2E_ENV = {
    "PAYMENT_LATENCY_MIN_MS": "200",
    "PAYMENT_LATENCY_MAX_MS": "400",
    "HOLD_SWEEP_INTERVAL_MS": "100",
    "RATE_LIMIT_IP_PER_MINUTE": "0",
    "RATE_LIMIT_BUYERS_PER_MINUTE": "0",
    "RATE_LIMIT_HOLDS_PER_MINUTE": "100000",
    "ARGON2_PROFILE": "CHEAPEST",
    # The first admin comes from the environment at first start (see docs/admin.md).
    "ADMIN_BOOTSTRAP_USER": "e2e-admin",
    "ADMIN_BOOTSTRAP_PASSWORD": "e2e-admin-password",
    # No build-time prerendering: on a busy 2-core machine it times out ("Prerender: Request
    # failed for /") and the tests render every page in the browser anyway.
    "REFLEX_SSR": "false",
    # Only 127.0.0.1: the scale-out test serves the same compiled frontend from more web
    # processes on the same port at 127.0.0.2 and 127.0.0.3.
    "WEB_HOST": "127.0.0.1",
}


def browser_path() -> str | None:
    path = os.environ.get("BROWSER_PATH") or "/usr/bin/chromium"
    return path if Path(path).exists() else None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Use the machine's Chromium when Playwright's own browsers are not installed."""
    args = {**browser_type_launch_args, "args": CHROMIUM_ARGS}
    if path := browser_path():
        args["executable_path"] = path
    return args


# A camera that plays a video file, and camera access granted without asking (Chromium's own
# test switches; the file is Y4M or MJPEG, looped).
FAKE_CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture
def camera_browser(playwright: Any, browser_type_launch_args: dict[str, Any]
                   ) -> Iterator[Callable[[Path], Any]]:
    """Launches a Chromium whose camera shows `video` (e2e/camera.py writes one from an
    image): `browser = camera_browser(path)`. Closed after the test."""
    launched: list[Any] = []

    def launch(video: Path) -> Any:
        args = [*browser_type_launch_args.get("args", CHROMIUM_ARGS), *FAKE_CAMERA_ARGS,
                f"--use-file-for-fake-video-capture={video}"]
        browser = playwright.chromium.launch(**{**browser_type_launch_args, "args": args})
        launched.append(browser)
        return browser

    yield launch
    for browser in launched:
        browser.close()


@pytest.fixture(scope="session")
def mail_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The development mail sink `ticketing up` runs (ticketing_app/devmail.py): the stack
    delivers buyers' mail to it, the tests read it there and at /api/dev/mail."""
    from ticketing_app.devmail import SmtpSink

    sink = SmtpSink(directory=tmp_path_factory.mktemp("devmail")).start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(scope="session")
def app_stack(tmp_path_factory: pytest.TempPathFactory, mail_sink: Any) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("e2e")
    port = free_port()
    public = f"http://localhost:{port}"
    mail = {"SMTP_URL": mail_sink.url, "DEV_MAIL_DIR": str(mail_sink.directory)}
    st = Stack(database_url=f"sqlite+aiosqlite:///{work}/e2e.db",
               extra_env={**E2E_ENV, "PUBLIC_URL": public, **mail}).start_services()
    try:
        st.migrate()
        env = st.env()
        _run([sys.executable, "-m", "ticketing_app.cli", "seed-demo"], env)
        st.start_process("worker")
        st.start_process("relay")
        st.start_process("consumers")
        web = ChildProcess("web", [sys.executable, "-m", "ticketing_app.cli", "web", "--port",
                                   str(port)], port, st.workdir / "logs" / "web.log", env=env,
                           cwd=PROJECT_ROOT)
        st.procs["web"] = web.start(wait=False)
        _wait_ready(f"{public}/ping", web, timeout=600)
        st.extra_env["E2E_BASE_URL"] = public
        yield st
    finally:
        st.stop()


def _run(cmd: list[str], env: dict[str, str]) -> None:
    import subprocess

    subprocess.run(cmd, env=env, cwd=PROJECT_ROOT, check=True, capture_output=True)


def _wait_ready(url: str, proc: ChildProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.running:
            raise RuntimeError(f"web app exited:\n{proc.log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"web app not ready after {timeout}s:\n{proc.log_path.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def base_url(app_stack: Stack) -> str:
    """pytest-playwright uses this for relative page.goto() paths."""
    return app_stack.extra_env["E2E_BASE_URL"]


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def set_provider_mode(app_stack: Stack) -> Iterator[Any]:
    """Force the simulated provider's outcome (success | fail | hang) for this test."""
    from redis import Redis

    from backend_jobs.provider import MODE_KEY

    r = Redis.from_url(app_stack.redis_url)

    def _set(mode: str | None) -> None:
        if mode:
            r.set(MODE_KEY, mode)
        else:
            r.delete(MODE_KEY)

    yield _set
    r.delete(MODE_KEY)
    r.close()


def run_async(coro: Any) -> Any:
    return asyncio.new_event_loop().run_until_complete(coro)
