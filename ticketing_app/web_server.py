"""The web process's server: the Reflex app (pages, `/_event` websocket, REST API) on granian,
with the settings a stampede needs rather than Reflex's launcher defaults.

- One server process per core (WEB_WORKERS): every core answers requests. Several processes
  keep Reflex session state in Redis (rxconfig.py); each runs its own live hub, seat mirror,
  sweeper and waiting-room pacer (ticketing_app/lifespan.py).
- uvloop, and a listen backlog of 4096: a thousand clients connecting in the same second are
  queued by the kernel instead of dropped (a dropped SYN is retried after 1, 3, 7, 15 s...:
  the tens-of-seconds outliers the original scenario showed).
- Requests a worker serves at once (granian's backpressure): the backlog plus SSE_MAX_CLIENTS.
  A seat stream or a page's websocket is a request that lasts; at granian's default
  (backlog / workers) a worker stopped accepting connections at 4096 of them, with clients
  left in the listen queue.
- The app is imported once in the supervisor and the workers are forked from it, so they share
  its pages and start in a second.

`ticketing web` compiles the frontend first (or takes one compiled ahead of time with
`--prebuilt`); `--backend-only` serves the websocket, state and REST API without pages, for
clients that are not browsers (benchmarks, the reconnect-storm test).
"""

from __future__ import annotations

import multiprocessing
import os
import sys

from ticketing_app.settings import PROJECT_ROOT, get_settings

BACKLOG = 4096


def backpressure(sse_max_clients: int) -> int:
    """Requests one granian worker serves at once: long-lived ones (seat streams, websockets)
    on top of a backlog's worth of short ones."""
    return BACKLOG + sse_max_clients


def serve(host: str, port: int, backend_only: bool = False) -> None:
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels
    from granian.server import Server
    from reflex import constants
    from reflex.config import get_config
    from reflex.environment import environment
    from reflex.utils import exec as rx_exec

    os.chdir(PROJECT_ROOT)
    settings = get_settings()
    static = PROJECT_ROOT / ".web" / constants.Dirs.STATIC
    if not backend_only and not (static / "index.html").exists():
        raise SystemExit(f"no compiled frontend in {static}: run "
                         "`reflex export --frontend-only --no-zip` first")
    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_SKIP_COMPILE.set(True)
    environment.REFLEX_MOUNT_FRONTEND_COMPILED_APP.set(not backend_only)
    if backend_only:
        get_config()._set_persistent(backend_port=port, backend_host=host)
    else:
        get_config()._set_persistent(frontend_port=port, backend_port=port, backend_host=host)
    rx_exec.get_app_instance_from_file()  # puts the project on sys.path, as Reflex does
    target = "ticketing_app.ticketing_app:web_asgi"
    workers = settings.web_processes
    if workers > 1:
        # Import the app before forking, so the workers share its memory and start at once.
        multiprocessing.set_start_method("fork", force=True)
        __import__(target.split(":")[0])
    level = os.getenv("GRANIAN_LOG_LEVEL", "warning")
    Server(
        target=target, factory=True, address=host, port=port, interface=Interfaces.ASGI,
        workers=workers, loop=Loops.uvloop, backlog=BACKLOG,
        backpressure=backpressure(settings.sse_max_clients),
        log_level=LogLevels(level), log_access=False,
        workers_kill_timeout=int(settings.shutdown_grace_s),
        respawn_failed_workers=True,
    ).serve()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), backend_only="--backend-only" in sys.argv[3:])
