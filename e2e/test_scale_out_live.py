"""Two web processes serve one app (Reflex state in Redis): a hold made in a browser served
by one process reaches a browser served by the other, live; when that other process is
stopped for a deploy (SIGTERM), its browser reconnects to the new version and is current.

The processes reuse the frontend compiled for the e2e session's web app (`--prebuilt`, as a
container image would) and listen on its port at other loopback addresses: the compiled
frontend opens its websocket on the page's own host, so a browser at 127.0.0.2 talks to the
process there. They share their own Valkey and database, not the session's.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from prometheus_client.parser import text_string_to_metric_families

from ticketing_app.embedded import ChildProcess
from ticketing_app.settings import PROJECT_ROOT
from ticketing_app.stack import Stack

pytestmark = pytest.mark.e2e

HOSTS = ("127.0.0.2", "127.0.0.3")
LIVE_ENV = {"WEB_STATE_REDIS": "true", "HOLD_SWEEP_INTERVAL_MS": "100",
            "RATE_LIMIT_IP_PER_MINUTE": "0", "RATE_LIMIT_HOLDS_PER_MINUTE": "100000"}
SEAT = "button[aria-label^='Row C seat {n},']"


def _web(st: Stack, host: str, port: int, name: str) -> ChildProcess:
    env = st.env(WEB_HOST=host, WEB_WORKERS="1")
    proc = ChildProcess(name, [sys.executable, "-m", "ticketing_app.cli", "web", "--prebuilt",
                               "--port", str(port)], port, st.workdir / "logs" / f"{name}.log",
                        env=env, cwd=PROJECT_ROOT)
    st.procs[name] = proc.start(wait=False)
    return proc


def _wait_ready(proc: ChildProcess, host: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.running:
            raise RuntimeError(f"{proc.name} exited:\n{proc.log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://{host}:{proc.port}/actuator/health/readiness",
                         timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{proc.name} not ready:\n{proc.log_path.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def two_webs(app_stack: Stack, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[Stack, int]]:
    """Own services and data; the e2e session's web app only provided the compiled frontend."""
    port = urlsplit(app_stack.extra_env["E2E_BASE_URL"]).port
    assert port is not None
    work = tmp_path_factory.mktemp("scale-live")
    # The browsers open the app at the two hosts: those origins must be allowed (CORS and the
    # websocket's Origin check), as an operator lists every address browsers use.
    origins = ",".join(f"http://{host}:{port}" for host in HOSTS)
    st = Stack(database_url=f"sqlite+aiosqlite:///{work}/live.db",
               extra_env={**LIVE_ENV, "PUBLIC_URL": app_stack.extra_env["E2E_BASE_URL"],
                          "CORS_ORIGINS": origins}
               ).start_services(kafka=False)
    try:
        st.migrate()
        subprocess.run([sys.executable, "-m", "ticketing_app.cli", "seed-demo"], env=st.env(),
                       cwd=PROJECT_ROOT, check=True, capture_output=True)
        procs = [_web(st, host, port, f"web-{i}") for i, host in enumerate(HOSTS)]
        for proc, host in zip(procs, HOSTS, strict=True):
            _wait_ready(proc, host)
        yield st, port
    finally:
        st.stop()


def _live_sessions(host: str, port: int) -> float:
    text = httpx.get(f"http://{host}:{port}/metrics", timeout=5).text
    return sum(s.value for fam in text_string_to_metric_families(text) for s in fam.samples
               if s.name == "tk_live_sessions")


def _open(browser: Browser, host: str, port: int, event_id: int) -> Page:
    page = browser.new_context(base_url=f"http://{host}:{port}").new_page()
    page.goto(f"/event/{event_id}")
    return page


def _eventually(check: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_hold_through_one_process_reaches_a_browser_on_the_other(
    browser: Browser, two_webs: tuple[Stack, int],
) -> None:
    _, port = two_webs
    alice = _open(browser, HOSTS[0], port, 2)
    bob = _open(browser, HOSTS[1], port, 2)
    seat = SEAT.format(n=4)
    for page in (alice, bob):
        expect(page.locator(seat)).to_have_attribute("data-status", "available",
                                                     timeout=30_000)
    # Each browser's live session is served by its own process.
    _eventually(lambda: _live_sessions(HOSTS[0], port) == 1 == _live_sessions(HOSTS[1], port))
    alice.locator(seat).click()
    expect(alice.locator(seat)).to_have_attribute("data-status", "mine", timeout=2_000)
    # Correctness deadline, not a speed check: the other process's browser sees it in 2 s.
    expect(bob.locator(seat)).to_have_attribute("data-status", "held", timeout=2_000)
    alice.locator(seat).click()
    expect(bob.locator(seat)).to_have_attribute("data-status", "available", timeout=2_000)
    alice.context.close()
    bob.context.close()


def test_a_deploy_stops_one_process_and_its_browser_reconnects_to_the_new_version(
    browser: Browser, two_webs: tuple[Stack, int],
) -> None:
    st, port = two_webs
    alice = _open(browser, HOSTS[0], port, 3)
    bob = _open(browser, HOSTS[1], port, 3)
    first, second = SEAT.format(n=6), SEAT.format(n=7)
    for page in (alice, bob):
        expect(page.locator(first)).to_have_attribute("data-status", "available",
                                                      timeout=30_000)
    old = st.procs["web-1"]
    assert old.proc is not None
    started = time.monotonic()
    old.stop(timeout=30)  # SIGTERM: a graceful stop, not a kill
    assert old.proc.returncode == 0, old.log_path.read_text()[-2000:]
    assert time.monotonic() - started < 25
    # While bob's process is away, alice (on the other process) keeps selling.
    alice.locator(first).click()
    expect(alice.locator(first)).to_have_attribute("data-status", "mine", timeout=2_000)
    new = _web(st, HOSTS[1], port, "web-1")
    _wait_ready(new, HOSTS[1])
    # Bob's page reconnects by itself to the new process and catches up...
    expect(bob.locator(first)).to_have_attribute("data-status", "held", timeout=30_000)
    _eventually(lambda: _live_sessions(HOSTS[1], port) == 1)
    # ...and is live again there.
    alice.locator(second).click()
    expect(bob.locator(second)).to_have_attribute("data-status", "held", timeout=2_000)
    alice.context.close()
    bob.context.close()
