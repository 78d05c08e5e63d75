"""The CI dependency audit's decisions (scripts/audit_deps.py) on pip-audit's JSON report:
real findings fail unless justified, offline runs are skipped loudly, never passed silently."""

from __future__ import annotations

import importlib.util
import sys
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ticketing_app.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def mod() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_deps",
                                                  PROJECT_ROOT / "scripts" / "audit_deps.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def report(*deps: dict[str, Any]) -> dict[str, Any]:
    return {"dependencies": list(deps), "fixes": []}


VULN = {"name": "Jinja2", "version": "3.1.2", "vulns": [
    {"id": "GHSA-h5c8-rqwp-cp95", "aliases": ["CVE-2024-22195"], "fix_versions": ["3.1.3"]}]}
OK = {"name": "fastapi", "version": "0.115.0", "vulns": []}
TODAY = date(2026, 11, 25)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ignore.toml"
    path.write_text(text)
    return path


def test_a_finding_fails_unless_justified(mod: ModuleType, tmp_path: Path) -> None:
    out = mod.evaluate(report(OK, VULN), [], TODAY)
    assert out.exit_code == 1 and out.status == "findings"
    assert any("VULNERABLE Jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)" in ln
               for ln in out.lines)
    ignores = mod.load_ignores(write(tmp_path, '[[ignore]]\nid = "CVE-2024-22195"\n'
                                     'package = "jinja2"\nreason = "no user templates"\n'))
    out = mod.evaluate(report(OK, VULN), ignores, TODAY)  # matched through its alias
    assert out.exit_code == 0 and any("accepted" in ln and "no user templates" in ln
                                      for ln in out.lines)


def test_an_expired_justification_fails_again(mod: ModuleType, tmp_path: Path) -> None:
    ignores = mod.load_ignores(write(tmp_path, '[[ignore]]\nid = "GHSA-h5c8-rqwp-cp95"\n'
                                     'package = "Jinja2"\nreason = "r"\nuntil = "2026-01-31"\n'))
    out = mod.evaluate(report(VULN), ignores, TODAY)
    assert out.exit_code == 1 and any("expired 2026-01-31" in ln for ln in out.lines)


def test_an_entry_without_a_reason_is_refused(mod: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reason"):
        mod.load_ignores(write(tmp_path, '[[ignore]]\nid = "X"\npackage = "p"\n'))
    out = mod.audit(write(tmp_path, '[[ignore]]\nid = "X"\n'), "pypi", 5, False)
    assert out.exit_code == 2


def test_offline_runs_are_skipped_loudly_not_passed(mod: ModuleType) -> None:
    unknown = [{"name": f"p{i}", "skip_reason": "Dependency not found on PyPI"}
               for i in range(9)]
    out = mod.evaluate(report(OK, *unknown), [], TODAY)  # a mirror that knows nothing
    assert out.status == "skipped" and out.exit_code == 0 and "SKIPPED" in out.lines[0]
    out = mod.evaluate(report(OK, OK, unknown[0]), [], TODAY)  # one private package: fine
    assert out.status == "clean" and any("not audited: p0" in ln for ln in out.lines)
    err = "requests.exceptions.ConnectionError: Max retries exceeded with url: /v1/query"
    assert mod.network_failure(err) == err
    assert mod.network_failure("ValueError: something else") is None


def test_the_repository_ignore_file_is_valid(mod: ModuleType) -> None:
    for ig in mod.load_ignores(mod.DEFAULT_IGNORE_FILE):
        assert ig.reason and ig.package and ig.id
