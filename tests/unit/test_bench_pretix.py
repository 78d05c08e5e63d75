"""The pretix side of bench scenario 9 without installing pretix: its config is the documented
INI with no Celery, an install that fails becomes a skip with pip's reason, and the quick
(CI) parameters skip the scenario."""

from __future__ import annotations

import asyncio
import configparser
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench import pretix
from bench.scenario import ScenarioResult
from bench.scenarios.pretix_compare import SCENARIO, run


def test_config_is_documented_ini_without_celery(tmp_path: Path) -> None:
    cfg = tmp_path / "pretix.cfg"
    pretix.write_config(cfg, url="http://127.0.0.1:9", datadir=tmp_path / "data",
                        pg_admin_url="postgresql://postgres@127.0.0.1:5432/postgres",
                        dbname="tk_bench_pretix_x", redis_db=12)
    ini = configparser.ConfigParser()
    ini.read(cfg)
    assert ini["database"]["backend"] == "postgresql"
    assert ini["database"]["name"] == "tk_bench_pretix_x"
    assert ini["database"]["user"] == "postgres"
    assert ini["redis"]["location"].endswith("/12") and ini["redis"]["sessions"] == "true"
    assert ini["django"]["debug"] == "false" and len(ini["django"]["secret"]) >= 32
    assert "celery" not in ini


def test_failed_install_is_unavailable_with_pips_reason(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_run(cmd: list[str], stdout: Any = None, **_: Any) -> subprocess.CompletedProcess[str]:
        if "pip" in cmd and stdout is not None:
            stdout.write("ERROR: No matching distribution found for pretix==2026.8.0\n")
            stdout.flush()
            return subprocess.CompletedProcess(cmd, 1)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(pretix.subprocess, "run", fake_run)
    monkeypatch.setattr(pretix, "installed_version", lambda venv: "")
    with pytest.raises(pretix.PretixUnavailable, match="No matching distribution"):
        pretix.ensure_venv(tmp_path / "pretix-venv", lambda _: None)


def test_quick_run_skips_with_a_reason() -> None:
    ctx: Any = None  # the quick parameters skip before anything is asked of the context
    result: ScenarioResult = asyncio.run(run(ctx, SCENARIO.params(quick=True)))
    assert result.status == "skipped" and "full bench only" in result.reason
    assert SCENARIO.params(quick=False)["vus"] > 0
