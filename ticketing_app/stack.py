"""A whole running stack on this machine: embedded Valkey and broker, a database, and the
platform's own processes. Used by the test fixtures, the benchmarks and fault injection, so
each gets its own services on free ports and never collides with a running dev stack."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ticketing_app import embedded
from ticketing_app.embedded import START_TIMEOUT_S, ChildProcess, free_port
from ticketing_app.settings import PROJECT_ROOT

PROCESS_COMMANDS = {
    "worker": ["worker"],
    "relay": ["relay"],
    "consumers": ["consumers"],
}


@dataclass
class Stack:
    database_url: str
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tk-stack-")))
    extra_env: dict[str, str] = field(default_factory=dict)
    start_timeout_s: float = START_TIMEOUT_S
    redis: ChildProcess | None = None
    kafka: ChildProcess | None = None
    procs: dict[str, ChildProcess] = field(default_factory=dict)

    @property
    def redis_url(self) -> str:
        assert self.redis is not None
        return f"redis://127.0.0.1:{self.redis.port}/0"

    @property
    def kafka_bootstrap(self) -> str:
        assert self.kafka is not None
        return f"127.0.0.1:{self.kafka.port}"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "KAFKA_BOOTSTRAP": self.kafka_bootstrap if self.kafka else "",
            "APP_ENV": "test",
            "TRUST_CALLER_ID": "true",
            "LOG_LEVEL": "INFO",
            **self.extra_env,
        }
        env.update(overrides)
        return env

    def start_services(self, kafka: bool = True) -> Stack:
        self.redis = embedded.valkey(workdir=self.workdir / "valkey").start()
        if kafka:
            self.kafka = embedded.tansu(workdir=self.workdir / "tansu").start()
        return self

    def migrate(self) -> None:
        from ticketing_app.db.migrate import upgrade

        upgrade(self.database_url)

    def _cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "ticketing_app.cli", *args]

    def start_api(self, name: str = "api", port: int | None = None, workers: int = 1,
                  **env: str) -> ChildProcess:
        port = port or free_port()
        proc = ChildProcess(name, self._cli("api", "--port", str(port), "--workers", str(workers)),
                            port,
                            self.workdir / "logs" / f"{name}.log", env=self.env(**env),
                            cwd=PROJECT_ROOT, start_timeout_s=self.start_timeout_s)
        self.procs[name] = proc.start()
        return proc

    def start_process(self, kind: str, name: str | None = None, **env: str) -> ChildProcess:
        name = name or kind
        proc = ChildProcess(name, self._cli(*PROCESS_COMMANDS[kind]), 0,
                            self.workdir / "logs" / f"{name}.log", env=self.env(**env),
                            cwd=PROJECT_ROOT)
        self.procs[name] = proc.start(wait=False)
        time.sleep(0.1)
        if not proc.running:
            raise RuntimeError(f"{name} exited at once:\n{proc.log_path.read_text()[-2000:]}")
        return proc

    def start_web_backend(self, name: str = "web", port: int | None = None, wait: bool = True,
                          **env: str) -> ChildProcess:
        """The Reflex backend (websocket, states, REST API) without pages: for websocket
        clients that are not browsers. One server process unless WEB_WORKERS says more.
        `wait=False`: the caller waits for readiness itself (on a loaded machine the app's
        start can take longer than the port wait)."""
        port = port or free_port()
        cmd = [sys.executable, "-m", "ticketing_app.web_server", "127.0.0.1", str(port),
               "--backend-only"]
        proc = ChildProcess(name, cmd, port, self.workdir / "logs" / f"{name}.log",
                            env=self.env(**{"WEB_WORKERS": "1", **env}), cwd=PROJECT_ROOT)
        self.procs[name] = proc.start(wait=wait)
        return proc

    def restart_redis_empty(self) -> None:
        """Fault injection: Redis comes back on the same port with nothing in it."""
        assert self.redis is not None
        self.redis.kill()
        self.redis = embedded.valkey(port=self.redis.port,
                                     workdir=self.workdir / "valkey2").start()

    def restart_kafka(self) -> None:
        assert self.kafka is not None
        port = self.kafka.port
        self.kafka.kill()
        self.kafka = embedded.tansu(port=port, workdir=self.workdir / "tansu2").start()

    def stop(self) -> None:
        """The platform's processes all at once (each drains on its own), then the broker and
        Valkey they drained into."""
        embedded.stop_all(list(self.procs.values()))
        self.procs.clear()
        embedded.stop_all([s for s in (self.kafka, self.redis) if s is not None])
