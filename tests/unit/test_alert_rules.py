"""The Prometheus alert rules (deploy/prometheus/*.yml other than prometheus.yml): each file is
wired into Prometheus, each rule is well-formed (a duration, a severity, a summary, a
description, a runbook section that exists), each expression parses with a real PromQL
parser, and every series it reads is one the platform really exports: the names and labels
come from the collectors registered in prometheus_client's registry once the product's own
modules are imported, not from a list kept here."""

from __future__ import annotations

import importlib
import re
from functools import cache
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY

from ticketing_app.settings import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy" / "prometheus"
OPERATIONS = PROJECT_ROOT / "docs" / "operations.md"
PACKAGES = ("ticketing_app", "backend_jobs")
# Series Prometheus makes itself for every scrape target (not exported by any process).
PROMETHEUS_SERIES = {"up": set[str]()}
TARGET_LABELS = {"job", "instance"}  # added by Prometheus to every scraped series
SEVERITIES = {"critical", "warning"}


def rule_files() -> list[Path]:
    return sorted(p for p in DEPLOY.glob("*.y*ml") if p.name != "prometheus.yml")


def rules() -> list[dict[str, Any]]:
    out = []
    for path in rule_files():
        doc = yaml.safe_load(path.read_text())
        for group in doc["groups"]:
            for rule in group["rules"]:
                out.append({**rule, "_file": path.name, "_group": group["name"]})
    return out


def _metric_modules() -> list[str]:
    """Every module of the product that creates metrics (it imports prometheus_client), and
    every backend process module (they register theirs on import)."""
    names = []
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
            if package == "backend_jobs" or "prometheus_client" in path.read_text():
                names.append(module.removesuffix(".__init__"))
    return names


@cache
def exported() -> dict[str, set[str]]:
    """Sample name -> label names, for every series the product's registry can expose."""
    for module in _metric_modules():
        importlib.import_module(module)
    labels_of: dict[str, set[str]] = {}
    # The registry's own map from each collector to the names it registered (prometheus_client
    # has no public accessor for a collector's label names).
    for collector in list(REGISTRY._collector_to_names):
        labelnames = set(getattr(collector, "_labelnames", ()))
        for family in getattr(collector, "describe", collector.collect)():
            for name in _sample_names(family.name, family.type):
                labels_of[name] = labelnames | ({"le"} if name.endswith("_bucket") else set())
    return labels_of


def _sample_names(base: str, kind: str) -> list[str]:
    """The sample names a family of this type is exposed as (the text format's rules)."""
    if kind == "counter":
        return [f"{base}_total", f"{base}_created"]
    if kind == "histogram":
        return [f"{base}_bucket", f"{base}_count", f"{base}_sum", f"{base}_created"]
    if kind == "summary":
        return [base, f"{base}_count", f"{base}_sum", f"{base}_created"]
    if kind == "info":
        return [f"{base}_info"]
    return [base]


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(series name, labels it is matched or grouped on) for each selector of an expression:
    its own matchers, and the `by`/`without`/`on`/`ignoring`/`group_*` labels of every
    aggregation or vector match above it."""
    tree = promql_parser.parse(expr)  # raises on anything Prometheus would refuse
    found: list[tuple[str, set[str]]] = []
    above: list[set[str]] = []  # grouping labels of the enclosing nodes

    def grouping(node: Any) -> set[str] | None:
        if isinstance(node, promql_parser.AggregateExpr):
            return set(node.modifier.labels) if node.modifier is not None else set()
        if isinstance(node, promql_parser.BinaryExpr):
            mod = node.modifier
            if mod is None:
                return set()
            return set(mod.matching.labels if mod.matching is not None else ()) | set(
                mod.group_labels or ())
        return None

    def enter(node: Any) -> None:
        labels = grouping(node)
        if labels is not None:
            above.append(labels)
        if isinstance(node, promql_parser.VectorSelector):
            assert node.name, f"selector without a metric name in {expr!r}"
            found.append((node.name, {m.name for m in node.matchers.matchers}.union(*above)))

    def leave(node: Any) -> None:
        if grouping(node) is not None:
            above.pop()

    promql_parser.walk(tree, enter, leave)
    return found


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#+\s+(.+)$", path.read_text(), re.M)}


# ---- the tests ----------------------------------------------------------------------------
def test_every_rule_file_is_loaded_by_prometheus() -> None:
    files = rule_files()
    assert files, "no alert rules in deploy/prometheus"
    prom = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    mounts = {v.split(":")[1]: (PROJECT_ROOT / v.split(":")[0]).resolve()
              for v in compose["services"]["prometheus"]["volumes"] if v.startswith("./")}
    loaded = {mounts[path] for path in prom["rule_files"]}
    assert loaded == {p.resolve() for p in files}


def test_every_rule_is_complete_and_points_at_its_runbook() -> None:
    sections = anchors(OPERATIONS)
    names = [r["alert"] for r in rules()]
    assert len(names) == len(set(names)), "duplicate alert names"
    for rule in rules():
        name = rule["alert"]
        assert set(rule) - {"_file", "_group"} <= {"alert", "expr", "for", "labels",
                                                     "annotations", "keep_firing_for"}, name
        assert promql_parser.parse_duration(str(rule["for"])).total_seconds() >= 0, name
        assert rule["labels"]["severity"] in SEVERITIES, name
        notes = rule["annotations"]
        assert notes["summary"].strip() and notes["description"].strip(), name
        doc, _, anchor = notes["runbook_url"].partition("#")
        assert (PROJECT_ROOT / doc).resolve() == OPERATIONS.resolve(), name
        assert anchor in sections, f"{name}: no section #{anchor} in docs/operations.md"


def test_every_expression_reads_only_series_the_platform_exports() -> None:
    series = {**exported(), **PROMETHEUS_SERIES}
    used: set[str] = set()
    for rule in rules():
        found = selectors(rule["expr"])
        assert found, rule["alert"]
        for name, labels in found:
            assert name in series, f"{rule['alert']}: {name} is not exported by the platform"
            allowed = series[name] | TARGET_LABELS
            assert labels <= allowed, (rule["alert"], name, labels - allowed)
            used.add(name)
        # Labels an annotation prints must exist on what the expression reads.
        known = set().union(*(series[n] for n, _ in found)) | TARGET_LABELS
        for text in rule["annotations"].values():
            printed = set(re.findall(r"\$labels\.(\w+)", str(text)))
            assert printed <= known, (rule["alert"], printed - known)
    # The list: oversell found by the audit, payments stuck past their deadline,
    # outbox backlog and relay lag, consumer lag, a dependency down; plus 5xx and p95.
    assert {"tk_audit_discrepancies", "tk_audit_last_run_timestamp_seconds",
            "tk_payments_past_deadline_max_seconds", "tk_outbox_backlog",
            "tk_outbox_lag_seconds", "tk_consumer_lag_messages", "tk_dependency_up",
            "tk_http_request_duration_seconds_count",
            "tk_http_request_duration_seconds_bucket"} <= used
    severities = {r["labels"]["severity"] for r in rules()
                  if "SEAT_SOLD_TWICE" in r["expr"] and "!=" not in r["expr"]}
    assert severities == {"critical"}, "an oversell pages someone"


def test_the_registry_reader_sees_the_product_and_the_checks_bite() -> None:
    series = exported()
    assert series["tk_hold_attempts_total"] == {"outcome"}
    assert series["tk_http_request_duration_seconds_bucket"] == {"method", "route", "status",
                                                                 "le"}
    assert series["tk_consumer_lag_messages"] == {"consumer", "partition"}
    assert series["tk_audit_discrepancies"] == {"kind"}
    assert "tk_hold_attempts" not in series and "tk_orders_total" in series
    assert "process_cpu_seconds_total" in series  # the default collectors are there too
    found = selectors('sum by (kind) (rate(tk_nope_total{x="1"}[5m])) > 0 and on (job) up')
    assert found == [("tk_nope_total", {"kind", "x", "job"}), ("up", {"job"})]
    assert "tk_nope_total" not in series
    with pytest.raises(Exception):  # noqa: B017 - the binding raises a plain error
        promql_parser.parse("sum(rate(tk_orders_total[5m])")
    assert _slug("Oversell found by the audit") == "oversell-found-by-the-audit"
    assert _slug("`tk_x`: API errors, and latency") == "tk_x-api-errors-and-latency"
