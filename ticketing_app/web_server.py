"""Serve the Reflex app from a frontend compiled ahead of time (`ticketing web --prebuilt`).

`reflex run --env prod --single-port` compiles and builds the frontend every time it starts
(a minute or more, and it rewrites `.web/` under any other process serving from it). A
container image builds once (`reflex export --frontend-only --no-zip`); each replica then
starts here in seconds: the same production backend (granian, GRANIAN_WORKERS processes) with
the compiled frontend mounted on the same port, exactly what single-port mode runs after its
build step.
"""

from __future__ import annotations

import os
import sys

from ticketing_app.settings import PROJECT_ROOT


def serve(host: str, port: int, backend_only: bool = False) -> None:
    """`backend_only`: the websocket, state and REST API without pages, for websocket clients
    that are not browsers (the live-sync benchmark and the reconnect-storm test); it needs no
    compiled frontend."""
    from reflex import constants
    from reflex.config import get_config
    from reflex.environment import environment
    from reflex.utils import exec as rx_exec

    os.chdir(PROJECT_ROOT)
    static = PROJECT_ROOT / ".web" / constants.Dirs.STATIC
    if backend_only:
        environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
        environment.REFLEX_SKIP_COMPILE.set(True)
        get_config()._set_persistent(backend_port=port, backend_host=host)
        rx_exec.run_backend_prod(host, port, get_config().loglevel.subprocess_level(),
                                 mount_frontend_compiled_app=False)
        return
    if not (static / "index.html").exists():
        raise SystemExit(f"no compiled frontend in {static}: run "
                         "`reflex export --frontend-only --no-zip` first")
    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_SKIP_COMPILE.set(True)
    get_config()._set_persistent(frontend_port=port, backend_port=port, backend_host=host)
    rx_exec.run_backend_prod(host, port, get_config().loglevel.subprocess_level(),
                             mount_frontend_compiled_app=True)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), backend_only="--backend-only" in sys.argv[3:])
