"""What `ticketing up` hands to the processes it starts (they run in the project's directory,
not the caller's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ticketing_app.cli import up_child_env
from ticketing_app.settings import Settings


def test_a_relative_data_dir_reaches_the_children_absolute(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(app_env="test", data_dir=Path(".mydata"))
    assert settings.data_dir == tmp_path / ".mydata"
    env = up_child_env(settings, {"DATA_DIR": ".mydata", "OTHER": "kept"})
    assert env["DATA_DIR"] == str(tmp_path / ".mydata") and env["OTHER"] == "kept"
    assert Settings(app_env="test", data_dir=Path("~/x")).data_dir == Path.home() / "x"
