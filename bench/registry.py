"""The scenarios, in run order. Each is a module `bench/scenarios/<name>.py` exporting
`SCENARIO` (see `bench/scenario.py`). A listed module that does not exist yet is reported as
skipped ("not yet available"), never faked."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from bench.scenario import Scenario

REGISTRY: tuple[tuple[int, str, str], ...] = (
    (1, "redis_ceiling", "Redis ceiling: hold.lua from one Python process"),
    (2, "original_load", "The original's load: 1000 users on the REST API (PostgreSQL)"),
    (3, "stampede", "Stampede: 1000 buyers, 100 seats, one instant"),
    (4, "hold_strategies", "Hold strategies side by side"),
    (5, "live_sync", "Live-sync fan-out: Reflex websocket and SSE"),
    (6, "outbox_lag", "Outbox lag: order commit to processed by the projection"),
    (7, "cpu_cost", "CPU per operation, per platform process"),
    (8, "original_k6", "The original's k6 scenario on `ticketing up`, beside reference endpoints"),
    (9, "pretix_compare", "Purchases per minute on one event, side by side with pretix"),
    (10, "unit_costs", "What a PostgreSQL and a Redis round trip cost here"),
)


@dataclass(frozen=True)
class Entry:
    number: int
    name: str
    title: str
    scenario: Scenario | None
    missing_reason: str = ""


def load(name: str) -> Scenario | None:
    module_name = f"bench.scenarios.{name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    scenario = getattr(module, "SCENARIO", None)
    if not isinstance(scenario, Scenario):
        raise TypeError(f"{module_name} must define SCENARIO = Scenario(...)")
    return scenario


def entries(selected: list[str] | None = None) -> list[Entry]:
    known = {name for _, name, _ in REGISTRY}
    unknown = [s for s in selected or [] if s not in known and not s.isdigit()]
    if unknown:
        raise ValueError(f"unknown scenario {unknown[0]!r}; known: {', '.join(sorted(known))}")
    out = []
    for number, name, title in REGISTRY:
        if selected and name not in selected and str(number) not in selected:
            continue
        scenario = load(name)
        out.append(Entry(number, name, scenario.title if scenario else title, scenario,
                         "" if scenario else "not yet available (bench/scenarios/"
                                             f"{name}.py does not exist yet)"))
    return out
