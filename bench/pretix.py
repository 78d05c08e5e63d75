"""pretix, installed and served for a side-by-side benchmark, the way its documentation advises
for production, so the comparison is fair to it.

- Its own virtualenv (`<workdir>/pretix-venv`, or `PRETIX_VENV`), `pip install
  pretix==2026.8.0 gunicorn`; an existing one at that version is reused (about 600 MB).
- Its own PostgreSQL database on the bench's server (`tk_bench_pretix_<random>`, dropped
  afterwards unless --keep-db) and a database number of its own on the machine's Redis (cache
  and sessions), emptied afterwards.
- `pretix.cfg` in its documented INI format; DEBUG off; no `[celery]` section, so its tasks
  run in the web process (what a single-machine install does).
- `python -m pretix migrate`, then an organizer, an event (set up as the control panel's
  event wizard sets one up), one item, one quota the size of our venue, a team with every
  permission and an API token, through `python -m pretix shell -c`.
- gunicorn serving `pretix.wsgi` with 2 x cores + 1 sync workers and the docs' `--max-requests
  1200 --max-requests-jitter 50`, on a free loopback port; every worker is warmed up (its first
  request takes about 2 s) before anything is measured.

Nothing of pretix lives in this repository: it comes from PyPI at run time. When it cannot be
installed or started, `PretixUnavailable` says why, and the scenario skips with that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import psycopg
import redis
from psycopg.conninfo import conninfo_to_dict

from bench.stacks import admin_url_for
from ticketing_app.embedded import ChildProcess, free_port

VERSION = "2026.8.0"
MIN_PYTHON = (3, 11)
PRICE = "50.00"
REDIS_URL = "redis://127.0.0.1:6379"
REDIS_DBS = range(10, 16)  # pretix takes the first of these that is empty
SETUP_MARKER = "BENCH-PRETIX-SETUP "
Status = Callable[[str], None]


class PretixUnavailable(RuntimeError):
    """pretix cannot be installed or started here; the message is the reason to report."""


@dataclass
class PretixSite:
    """A running pretix with one event on sale."""

    url: str
    organizer: str
    event: str
    item: int
    quota: int
    sellout_item: int
    sellout_quota: int
    token: str
    dbname: str
    redis_db: int
    workers: int
    server: ChildProcess
    logs: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        assert self.server.proc is not None
        return self.server.proc.pid


# ---- the virtualenv -------------------------------------------------------------------------
def base_python() -> str:
    """A Python >= 3.11 to build the virtualenv from: ours if it is new enough."""
    if sys.version_info[:2] >= MIN_PYTHON:
        return sys.executable
    for name in ("python3.13", "python3.12", "python3.11"):
        found = shutil.which(name)
        if found:
            return found
    raise PretixUnavailable(f"pretix {VERSION} needs Python >= 3.11; none found "
                            f"(this is {sys.version.split()[0]})")


def installed_version(venv: Path) -> str:
    """pretix's version in that virtualenv ('' when absent or broken)."""
    py = venv / "bin" / "python"
    if not py.exists() or not (venv / "bin" / "gunicorn").exists():
        return ""
    out = subprocess.run([str(py), "-c", "import importlib.metadata as m; "
                          "print(m.version('pretix'))"],
                         capture_output=True, text=True, timeout=60, check=False)
    return out.stdout.strip() if out.returncode == 0 else ""


def ensure_venv(venv: Path, status: Status) -> Path:
    """The virtualenv with pretix at VERSION and gunicorn; installs it when missing."""
    if installed_version(venv) == VERSION:
        return venv
    status(f"installing pretix {VERSION} and gunicorn into {venv} (a few minutes)")
    log = venv.parent / "pretix-pip.log"
    try:
        if venv.exists():
            shutil.rmtree(venv)
        venv.parent.mkdir(parents=True, exist_ok=True)
        log.touch()
    except OSError as exc:
        raise PretixUnavailable(f"cannot create its virtualenv at {venv}: {exc}") from None
    steps = [[base_python(), "-m", "venv", str(venv)],
             [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
              f"pretix=={VERSION}", "gunicorn"]]
    with log.open("w") as out:
        for cmd in steps:
            try:
                proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=1500,
                                      check=False)
            except subprocess.TimeoutExpired:
                raise PretixUnavailable(f"{' '.join(cmd[:3])} ran over 25 minutes") from None
            if proc.returncode != 0:
                tail = log.read_text(errors="replace").strip().splitlines()[-6:]
                raise PretixUnavailable(f"could not install pretix {VERSION} "
                                        f"(exit {proc.returncode}): " + " | ".join(tail))
    got = installed_version(venv)
    if got != VERSION:
        raise PretixUnavailable(f"pip installed pretix {got or 'nothing'}, not {VERSION}")
    return venv


# ---- configuration and database -------------------------------------------------------------
def pick_redis_db() -> int:
    """A database number of the machine's Redis that nobody uses (empty now)."""
    try:
        for db in REDIS_DBS:
            client = redis.Redis.from_url(f"{REDIS_URL}/{db}", socket_timeout=3)
            try:
                if client.dbsize() == 0:
                    return db
            finally:
                client.close()
    except redis.RedisError as exc:
        raise PretixUnavailable(f"the machine's Redis at {REDIS_URL} is not reachable: "
                                f"{exc}") from None
    raise PretixUnavailable(f"every Redis database {REDIS_DBS.start}-{REDIS_DBS.stop - 1} at "
                            f"{REDIS_URL} holds keys; none is free for pretix")


def flush_redis_db(db: int) -> None:
    with contextlib.suppress(redis.RedisError):
        client = redis.Redis.from_url(f"{REDIS_URL}/{db}", socket_timeout=3)
        client.flushdb()
        client.close()


def write_config(path: Path, *, url: str, datadir: Path, pg_admin_url: str, dbname: str,
                 redis_db: int) -> None:
    """pretix.cfg in the INI format of its configuration docs: PostgreSQL, Redis for the
    cache and sessions, DEBUG off, no Celery (tasks run in-process)."""
    pg = conninfo_to_dict(pg_admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    lines = [
        "[pretix]", "instance_name=ticketing bench", f"url={url}", f"datadir={datadir}",
        "currency=EUR", "",
        "[database]", "backend=postgresql", f"name={dbname}", f"user={pg.get('user', '')}",
        f"host={pg.get('host', '127.0.0.1')}", f"port={pg.get('port', '5432')}",
    ]
    if pg.get("password"):
        lines.append(f"password={pg['password']}")
    lines += ["", "[redis]", f"location={REDIS_URL}/{redis_db}", "sessions=true", "",
              "[django]", "debug=false", f"secret={secrets.token_hex(32)}", "",
              "[mail]", "from=bench@localhost", "host=127.0.0.1", "port=1", ""]
    path.write_text("\n".join(lines))


def _env(venv: Path, config: Path) -> dict[str, str]:
    """A clean environment: nothing of ours (DATABASE_URL, our virtualenv) leaks into pretix."""
    keep = {k: os.environ[k] for k in ("HOME", "LANG", "LC_ALL", "TZ") if k in os.environ}
    return {**keep, "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "PRETIX_CONFIG_FILE": str(config), "VIRTUAL_ENV": str(venv)}


def manage(venv: Path, config: Path, args: list[str], log: Path, timeout: float) -> str:
    """`python -m pretix <args>`; its output, or PretixUnavailable with the tail."""
    cmd = [str(venv / "bin" / "python"), "-m", "pretix", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=_env(venv, config), cwd=config.parent, check=False)
    except subprocess.TimeoutExpired:
        raise PretixUnavailable(f"pretix {args[0]} ran over {timeout:.0f} s") from None
    with log.open("a") as out:
        out.write(f"$ pretix {args[0]}\n{proc.stdout}{proc.stderr}\n")
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-8:]
        raise PretixUnavailable(f"pretix {args[0]} failed (exit {proc.returncode}): "
                                + " | ".join(tail))
    return proc.stdout


# The setup, run inside pretix's own shell with its models: what the control panel's event
# wizard does for a new event (default plugins, a check-in list, default settings), then the
# item, the quota and an API token with every permission (2026.8's team flags).
SETUP = """
import json
from datetime import timedelta
from decimal import Decimal
from django.conf import settings
from django.utils.timezone import now
from django_scopes import scopes_disabled
from pretix.base.models import Organizer, Event
with scopes_disabled():
    org = Organizer.objects.create(name="Ticketing bench", slug=%(organizer)r)
    ev = Event.objects.create(organizer=org, name="Bench concert", slug=%(event)r,
                              date_from=now() + timedelta(days=30), currency="EUR", live=True)
    plugins = settings.PRETIX_PLUGINS_DEFAULT.split(",")
    ev.set_active_plugins(plugins, allow_restricted=plugins)
    ev.save(update_fields=["plugins"])
    ev.checkin_lists.create(name="Default", all_products=True)
    ev.set_defaults()
    ev.settings.set("timezone", "UTC")
    ev.settings.set("locale", "en")
    ev.settings.set("locales", ["en"])
    out = {}
    for key, name, size in (("main", "Ticket", %(capacity)d), ("sellout", "Last tickets",
                                                                  %(sellout)d)):
        item = ev.items.create(name=name, default_price=Decimal(%(price)r), admission=True,
                               active=True)
        quota = ev.quotas.create(name=name, size=size)
        quota.items.add(item)
        out[key] = [item.pk, quota.pk]
    team = org.teams.create(name="Bench API", all_events=True, all_event_permissions=True,
                            all_organizer_permissions=True)
    out["token"] = team.tokens.create(name="bench").token
    print(%(marker)r + json.dumps(out))
"""


def seed(venv: Path, config: Path, log: Path, *, organizer: str, event: str, capacity: int,
         sellout: int) -> dict[str, Any]:
    code = SETUP % {"organizer": organizer, "event": event, "capacity": capacity,
                    "sellout": sellout, "price": PRICE, "marker": SETUP_MARKER}
    out = manage(venv, config, ["shell", "-c", code], log, timeout=300)
    for line in out.splitlines():
        if line.startswith(SETUP_MARKER):
            return dict(json.loads(line[len(SETUP_MARKER):]))
    raise PretixUnavailable(f"pretix shell printed no setup result: {out[-500:]}")


# ---- serving ----------------------------------------------------------------------------------
def gunicorn_workers() -> int:
    """The docs' rule for gunicorn: 2 x cores + 1."""
    return 2 * (os.cpu_count() or 1) + 1


async def warm_up(site: PretixSite, status: Status, rounds: int = 30) -> float:
    """Requests `2 x workers` at a time until a whole round answers fast twice in a row, so
    every sync worker has served its slow first request; returns the slowest answer seen."""
    url = f"{site.url}/api/v1/organizers/{site.organizer}/events/{site.event}/items/"
    headers = {"Authorization": f"Token {site.token}"}
    slowest, fast_rounds = 0.0, 0
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:

        async def one() -> float:
            t = time.perf_counter()
            async with http.get(url) as r:
                await r.read()
                if r.status != 200:
                    raise PretixUnavailable(f"pretix answered {r.status} to GET {url}")
            return time.perf_counter() - t

        for i in range(rounds):
            status(f"pretix: warming up {site.workers} workers (round {i + 1})")
            took = await asyncio.gather(*(one() for _ in range(2 * site.workers)))
            slowest = max(slowest, *took)
            fast_rounds = fast_rounds + 1 if max(took) < 0.5 else 0
            if fast_rounds >= 2:
                break
    return slowest


@dataclass
class Install:
    """Where one run's pretix lives: its virtualenv, home (config, data, logs), port,
    database and Redis database number."""

    venv: Path
    home: Path
    port: int
    dbname: str
    redis_db: int
    admin_url: str
    created_db: bool = False

    @property
    def config(self) -> Path:
        return self.home / "pretix.cfg"

    @property
    def logs(self) -> Path:
        return self.home / "logs"


def install(workdir: Path, pg_admin_url: str, status: Status) -> Install:
    """The virtualenv (installed or reused), a home and a config for this run."""
    venv = Path(os.environ.get("PRETIX_VENV") or workdir / "pretix-venv").resolve()
    ensure_venv(venv, status)
    run_id = uuid.uuid4().hex[:10]
    home = (workdir / f"pretix-{run_id}").resolve()
    (home / "data").mkdir(parents=True)
    (home / "logs").mkdir()
    inst = Install(venv, home, free_port(), f"tk_bench_pretix_{run_id}", pick_redis_db(),
                   pg_admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    write_config(inst.config, url=f"http://127.0.0.1:{inst.port}", datadir=home / "data",
                 pg_admin_url=pg_admin_url, dbname=inst.dbname, redis_db=inst.redis_db)
    return inst


def migrate_and_seed(inst: Install, capacity: int, sellout: int, status: Status
                     ) -> dict[str, Any]:
    with psycopg.connect(inst.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{inst.dbname}"')
    inst.created_db = True
    log = inst.logs / "manage.log"
    status("pretix: migrating its database (about 2 minutes)")
    manage(inst.venv, inst.config, ["migrate", "--no-input"], log, timeout=1200)
    status("pretix: creating the organizer, event, item, quota and API token")
    return seed(inst.venv, inst.config, log, organizer="bench", event="concert",
                capacity=capacity, sellout=sellout)


def start_server(inst: Install, workers: int) -> ChildProcess:
    """gunicorn as the docs run it: sync workers, recycled after 1200 +- 50 requests."""
    server = ChildProcess(
        "pretix", [str(inst.venv / "bin" / "gunicorn"), "pretix.wsgi", "--name", "pretix",
                   "--workers", str(workers), "--max-requests", "1200",
                   "--max-requests-jitter", "50", "--log-level=info",
                   f"--bind=127.0.0.1:{inst.port}"],
        inst.port, inst.logs / "gunicorn.log", env=_env(inst.venv, inst.config), cwd=inst.home)
    try:
        return server.start()
    except RuntimeError as exc:
        raise PretixUnavailable(f"gunicorn did not start: {exc}") from None


def tear_down(inst: Install, server: ChildProcess | None, keep_db: bool) -> None:
    if server is not None:
        server.stop()
    flush_redis_db(inst.redis_db)
    if inst.created_db and not keep_db:
        with contextlib.suppress(Exception), \
                psycopg.connect(inst.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{inst.dbname}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def serve(workdir: Path, pg_admin_url: str, *, capacity: int, sellout: int,
                keep_db: bool, status: Status) -> AsyncIterator[PretixSite]:
    """pretix installed, migrated, seeded, served and warmed up; everything stopped, its
    database dropped and its Redis database emptied afterwards. The slow steps (pip,
    migrations, gunicorn's start) run in a thread."""
    inst = await asyncio.to_thread(install, workdir, pg_admin_url, status)
    server: ChildProcess | None = None
    try:
        ids = await asyncio.to_thread(migrate_and_seed, inst, capacity, sellout, status)
        workers = gunicorn_workers()
        status(f"pretix: starting gunicorn with {workers} workers")
        server = await asyncio.to_thread(start_server, inst, workers)
        site = PretixSite(f"http://127.0.0.1:{inst.port}", "bench", "concert", ids["main"][0],
                          ids["main"][1], ids["sellout"][0], ids["sellout"][1], ids["token"],
                          inst.dbname, inst.redis_db, workers, server, inst.logs)
        site.extra["first_request_s"] = round(await warm_up(site, status), 2)
        yield site
    finally:
        await asyncio.to_thread(tear_down, inst, server, keep_db)


# ---- afterwards --------------------------------------------------------------------------------
def quota_usage(pg_admin_url: str, site: PretixSite, item: int, quota: int) -> dict[str, int]:
    """What pretix's database says of one item and its quota: the quota's size, positions in
    live (pending or paid) orders, paid orders and their positions, unexpired cart positions."""
    with psycopg.connect(admin_url_for(pg_admin_url, site.dbname), autocommit=True) as conn:
        row = conn.execute(
            """SELECT
                 (SELECT size FROM pretixbase_quota WHERE id = %(q)s),
                 (SELECT count(*) FROM pretixbase_orderposition p
                    JOIN pretixbase_order o ON o.id = p.order_id
                   WHERE p.item_id = %(i)s AND NOT p.canceled AND o.status IN ('n', 'p')),
                 (SELECT count(DISTINCT o.id) FROM pretixbase_order o
                    JOIN pretixbase_orderposition p ON p.order_id = o.id
                   WHERE p.item_id = %(i)s AND o.status = 'p'),
                 (SELECT count(*) FROM pretixbase_orderposition p
                    JOIN pretixbase_order o ON o.id = p.order_id
                   WHERE p.item_id = %(i)s AND NOT p.canceled AND o.status = 'p'),
                 (SELECT count(*) FROM pretixbase_cartposition
                   WHERE item_id = %(i)s AND expires > now())""",
            {"q": quota, "i": item}).fetchone()
    assert row is not None
    size, live, paid_orders, paid_positions, carts = (int(x or 0) for x in row)
    return {"quota_size": size, "live_positions": live, "paid_orders": paid_orders,
            "paid_positions": paid_positions, "cart_positions": carts}


def machine_redis_pid() -> int | None:
    """The machine's Redis server (pretix's cache), for its CPU; None if not found."""
    port = int(REDIS_URL.rsplit(":", 1)[1])
    with contextlib.suppress(psutil.Error):
        for conn in psutil.net_connections("tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                return conn.pid
    return None
