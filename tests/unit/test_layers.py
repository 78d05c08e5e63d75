"""The layers, read from the imports: no module imports another that imports it back (at any
distance), and each package imports only what its layer may. Imports inside functions and
under `TYPE_CHECKING` count: they are the same dependency, only later or for the type checker.

The rules (the README's "Layers" says the same), bottom to top:

- `domain` imports nothing of ours: pure rules.
- The base every layer may read: `settings`; `observability` (metrics, tracing, logs: used
  everywhere, it imports only `settings`); `i18n` (translations and the reader's number,
  money and time formats: services write mail, states write toasts; it imports `settings`
  and the pure `domain`); `faults` (the tests' pause points, called from
  services and the relay); `routes` (the web app's paths and URL rules: entry points only);
  `embedded` and `probe` (child processes and the container probe: they import nothing).
- Adapters: `db`, `holds`, `waiting`, `clients` (Redis, Lua scripts, the job queue, Kafka)
  import `domain`, `settings`, `observability`, and each other.
- `services` import `domain`, the base and the adapters (and each other), never the wiring
  module or an entry point.
- `bootstrap`, the wiring module, builds the adapters and the services; `runtime` is its
  former name, kept as an alias for code not merged yet.
- Entry points: `api`, the Reflex UI (`state`, `components`, `pages`), `live`, `backend_jobs`
  and `cli` import services and below and the wiring module, never each other, except as
  stated in ENTRY_EXCEPTIONS.
- The processes on top: `lifespan` (the serving processes' background tasks), the Reflex app
  module `ticketing_app.ticketing_app`, `web_server`, `stack` (a whole stack for tests and
  benchmarks) assemble entry points.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ticketing_app", "backend_jobs")

BASE = {"settings", "observability", "faults", "i18n"}
ADAPTERS = {"db", "holds", "waiting", "clients"}
SERVICES = {"domain", *BASE, *ADAPTERS, "services"}
ENTRY = {"api", "state", "components", "pages", "live", "backend_jobs", "cli"}
BELOW_ENTRY = {*SERVICES, "bootstrap", "routes", "embedded", "devmail"}
# What each group may import (its own modules always).
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "settings": set(),
    "embedded": set(),
    # The development mail sink (aiosmtpd): `up` runs it, /api/dev/mail reads what it wrote.
    "devmail": {"embedded"},
    "probe": set(),
    "routes": set(),
    "observability": {"settings"},
    "faults": {"settings"},
    "i18n": {"settings", "domain"},
    "db": {"domain", "settings"},
    "clients": {"domain", "settings", "observability"},
    "holds": {"domain", "settings", "observability", "clients"},
    "waiting": {"domain", "settings", "observability", "clients"},
    "services": {"domain", *BASE, *ADAPTERS},
    "bootstrap": SERVICES,
    "runtime": {"bootstrap", "clients"},
    **{entry: BELOW_ENTRY for entry in ENTRY},
    "lifespan": BELOW_ENTRY | ENTRY,
    "app": BELOW_ENTRY | ENTRY | {"lifespan"},
    "web_server": {"settings"},
    "stack": {"settings", "db", "embedded"},
}
# Entry points that use each other, and why (one direction each).
ENTRY_EXCEPTIONS: dict[tuple[str, str], str] = {
    ("pages", "state"): "the Reflex UI: a page is bound to its state",
    ("pages", "components"): "the Reflex UI: a page is made of components",
    ("components", "state"): "the Reflex UI: a component is bound to a state",
    ("state", "live"): "the seat map follows this process's live hub and joins its rooms",
    ("cli", "backend_jobs"): "the `ticketing` command starts the worker, relay and consumers",
}
# Packages that use a lower layer directly, past the services, and why.
LAYER_EXCEPTIONS: dict[tuple[str, str], str] = {
    ("live", "holds"): "the live hub reads this process's copy of the seat maps "
                       "(holds/mirror.py), the same copy the hot path refuses from",
}


def group(module: str) -> str:
    """The layer group of a module: its package under ticketing_app (top-level modules are
    their own group; the Reflex app module is `app`), or `backend_jobs`."""
    parts = module.split(".")
    if parts[0] == "backend_jobs":
        return "backend_jobs"
    if len(parts) == 1:
        return "package"
    return "app" if parts[1] == "ticketing_app" else parts[1]


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imports() -> dict[str, set[str]]:
    """module -> the modules of ours it imports, anywhere in its body."""
    mods = modules()

    def resolve(name: str) -> str | None:
        while name:
            if name in mods:
                return name
            name = name.rpartition(".")[0]
        return None

    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in mods.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                names = [f"{base}.{a.name}" for a in node.names]
            for name in names:
                target = resolve(name)
                if target is not None and target != module:
                    graph[module].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_itself_back() -> None:
    assert circles(imports()) == []


def test_every_package_has_a_layer() -> None:
    groups = {group(m) for m in modules()} - {"package"}
    assert groups <= set(ALLOWED), sorted(groups - set(ALLOWED))


def test_imports_follow_the_layers() -> None:
    wrong = []
    for module, targets in sorted(imports().items()):
        source = group(module)
        for target in sorted(targets):
            dest = group(target)
            if dest in (source, "package"):
                continue
            if dest in ALLOWED.get(source, set()) or (source, dest) in ENTRY_EXCEPTIONS or \
                    (source, dest) in LAYER_EXCEPTIONS:
                continue
            wrong.append(f"{module} -> {target} ({source} may not import {dest})")
    assert wrong == []


def test_services_see_neither_the_wiring_nor_the_jobs() -> None:
    """The issue's own words: no service imports the wiring module or `backend_jobs`."""
    bad = [f"{m} -> {t}" for m, ts in imports().items() if group(m) == "services"
           for t in ts if group(t) in ("bootstrap", "runtime", "backend_jobs")]
    assert bad == []


def test_the_rules_catch_a_circle_and_a_wrong_import() -> None:
    """The checks themselves: a circle through a function-level import, a service that
    imports the wiring module."""
    graph = {"ticketing_app.services.a": {"ticketing_app.services.b"},
             "ticketing_app.services.b": {"ticketing_app.services.a"}}
    assert circles(graph) == [["ticketing_app.services.a", "ticketing_app.services.b"]]
    assert "bootstrap" not in ALLOWED["services"]
    assert "state" not in ALLOWED["live"] and ("live", "state") not in ENTRY_EXCEPTIONS
