"""What `ticketing up` hands to the processes it starts (they run in the project's directory,
not the caller's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ticketing_app.cli import up_child_env, web_env
from ticketing_app.settings import Settings


def test_a_relative_data_dir_reaches_the_children_absolute(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(app_env="test", data_dir=Path(".mydata"))
    assert settings.data_dir == tmp_path / ".mydata"
    env = up_child_env(settings, {"DATA_DIR": ".mydata", "OTHER": "kept"}, port=3000)
    assert env["DATA_DIR"] == str(tmp_path / ".mydata") and env["OTHER"] == "kept"
    assert Settings(app_env="test", data_dir=Path("~/x")).data_dir == Path.home() / "x"


def test_a_port_on_the_command_line_is_where_the_pages_connect(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ticketing up --port 3111` (and `ticketing web --port 3111`): without an explicit
    PUBLIC_URL the compiled pages open their websocket on 3111, not on PUBLIC_URL's default
    3000 ("Cannot connect to server"); an explicit PUBLIC_URL (a proxy in front) wins."""
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    derived = Settings(app_env="test")
    env = up_child_env(derived, {"OTHER": "kept"}, port=3111)
    assert env["PUBLIC_URL"] == "http://localhost:3111" and env["OTHER"] == "kept"
    assert web_env(derived, 3111, {})["PUBLIC_URL"] == "http://localhost:3111"
    monkeypatch.setenv("PUBLIC_URL", "https://tickets.example.com")
    explicit = Settings(app_env="test")
    env = up_child_env(explicit, {"PUBLIC_URL": "https://tickets.example.com"}, port=3111)
    assert env["PUBLIC_URL"] == "https://tickets.example.com"
    assert web_env(explicit, 3111, {"PUBLIC_URL": "https://tickets.example.com"}) == {
        "PUBLIC_URL": "https://tickets.example.com"}
