"""The hot path's CPU cost of two source trees, measured in one run: holds refused from the
process's copy of the seat map (the request a stampede is made of), sent through the API app
in-process (the request layer, the hot route, the reservation service) against a real Valkey.

    python scripts/hot_path_ratio.py --base /path/to/old/tree --head . [--requests 20000]

Each round runs every tree once, in a fresh process of its own (`PYTHONPATH` = the tree), in
alternating order; the answer is CPU microseconds per request (process time, so other load on
the machine counts little) and the head/base ratio of the rounds' medians. Both trees share
one Valkey and one SQLite database, migrated by the head tree.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

CHILD_ENV = {
    "APP_ENV": "test", "TRUST_CALLER_ID": "true", "SECRET_KEY": "x" * 40,
    "RATE_LIMIT_HOLDS_PER_MINUTE": "0", "RATE_LIMIT_IP_PER_MINUTE": "0", "LOG_LEVEL": "WARNING",
    "OTEL_SDK_DISABLED": "true",
}


async def measure(requests: int, warmup: int) -> dict[str, Any]:
    """In the child: one event whose seats another buyer holds, then `requests` holds of them
    by a second buyer, one at a time, each refused from the copy (409)."""
    from datetime import UTC, datetime, timedelta

    from ticketing_app.api import deps
    from ticketing_app.api.app import create_api
    from ticketing_app.domain.event_rules import TierSpec
    from ticketing_app.domain.layouts import GridSpec
    from ticketing_app.observability.tracing import configure_tracing
    from ticketing_app.runtime import create_runtime  # the name both trees answer to

    configure_tracing("bench")  # as a serving process: a provider set, no exporter
    rt = await create_runtime()
    venue = await rt.admin.create_venue("bench", f"Hall {uuid.uuid4().hex[:6]}",
                                        [GridSpec("Main", 1, 10)])
    ev = await rt.admin.create_event(
        "bench", title=f"Refusals {uuid.uuid4().hex[:6]}",
        starts_at=datetime.now(UTC) + timedelta(days=3), venue_id=int(venue.id or 0),
        tiers=[TierSpec("Standard", 1000)], status="ON_SALE")
    event_id = int(ev.id or 0)
    seats = [s.id for s in (await rt.catalog.layout(event_id, fresh=True)).seats]
    await rt.reservations.hold("alice", event_id, seats, 120)
    mirror = asyncio.create_task(rt.mirror.run())
    await asyncio.wait_for(rt.mirror.subscribed.wait(), 10)
    await rt.mirror.watch(event_id)

    app = create_api()
    app.dependency_overrides[deps.runtime] = lambda: rt
    statuses: dict[int, int] = {}

    async def one(seat: int) -> None:
        body = json.dumps({"eventId": event_id, "seatId": seat, "holdSeconds": 30}).encode()
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] = statuses.get(message["status"], 0) + 1

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": "/api/reservations",
                 "raw_path": b"/api/reservations", "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"bench"), (b"content-type", b"application/json"),
                             (b"x-caller-id", b"bob"),
                             (b"content-length", str(len(body)).encode())],
                 "client": ("10.1.2.3", 40000), "server": ("bench", 80)}
        await app(scope, receive, send)

    for i in range(warmup):
        await one(seats[i % len(seats)])
    statuses.clear()
    # A full collection's cost follows the heap, not the path: start every window after one, so
    # one landing inside it (by chance, in one tree and not the other) does not decide the result.
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(requests):
        await one(seats[i % len(seats)])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    rt.mirror.stop()
    mirror.cancel()
    await rt.close()
    return {"cpu_us": cpu / requests * 1e6, "wall_us": wall / requests * 1e6,
            "statuses": statuses}


def child(args: argparse.Namespace) -> None:
    import uvloop

    print(json.dumps(uvloop.run(measure(args.requests, args.warmup))))


def run_tree(tree: Path, requests: int, warmup: int, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", "--requests", str(requests),
         "--warmup", str(warmup)],
        env={**env, "PYTHONPATH": str(tree)}, cwd=tree, capture_output=True, text=True,
        check=False)
    if out.returncode != 0:
        raise SystemExit(f"{tree}: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if set(result["statuses"]) != {"409"}:  # JSON keys are strings
        raise SystemExit(f"{tree}: expected only 409s, got {result['statuses']}")
    return result


def parent(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(args.head))
    from ticketing_app import embedded
    from ticketing_app.db.migrate import upgrade

    trees = {"base": args.base.resolve(), "head": args.head.resolve()}
    with tempfile.TemporaryDirectory() as tmp:
        valkey = embedded.valkey(workdir=Path(tmp) / "valkey").start()
        try:
            db = f"sqlite+aiosqlite:///{tmp}/bench.db"
            upgrade(db)
            env = {**os.environ, **CHILD_ENV, "REDIS_URL": f"redis://127.0.0.1:{valkey.port}/0",
                   "DATABASE_URL": db, "DATA_DIR": tmp}
            cpu: dict[str, list[float]] = {name: [] for name in trees}
            for r in range(args.rounds):
                order = list(trees) if r % 2 == 0 else list(reversed(trees))
                for name in order:
                    res = run_tree(trees[name], args.requests, args.warmup, env)
                    cpu[name].append(res["cpu_us"])
                    print(f"round {r + 1} {name}: {res['cpu_us']:.1f} us CPU/request "
                          f"({res['wall_us']:.1f} us wall)", flush=True)
        finally:
            valkey.stop()
    med = {name: statistics.median(v) for name, v in cpu.items()}
    print(json.dumps({"requests": args.requests, "rounds": args.rounds,
                      "median_cpu_us": {k: round(v, 1) for k, v in med.items()},
                      "ratio_head_over_base": round(med["head"] / med["base"], 3)}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", type=Path, help="the tree to compare against")
    p.add_argument("--head", type=Path, default=Path.cwd())
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--warmup", type=int, default=2_000)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
    elif args.base is None:
        p.error("--base is required")
    else:
        parent(args)


if __name__ == "__main__":
    main()
