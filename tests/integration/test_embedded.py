"""Embedded services refuse to pass off someone else's listener as their own."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from ticketing_app import embedded


def test_a_port_taken_by_another_process_is_not_mistaken_for_ours(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(RuntimeError, match="did not start"):
            embedded.valkey(port=port, workdir=tmp_path / "v").start()
        # A child that stays alive but never binds the port is refused too.
        idle = embedded.ChildProcess("idle", [sys.executable, "-c", "import time; time.sleep(60)"],
                                     port, tmp_path / "idle.log")
        with pytest.raises(RuntimeError, match="did not start"):
            idle._check_owner_timeout = 1.0
            idle.start()
        assert not idle.running


def test_our_own_listener_is_recognised(tmp_path: Path) -> None:
    v = embedded.valkey(workdir=tmp_path / "v").start()
    try:
        assert v.proc is not None
        assert embedded.port_owned_by_session(v.port, v.proc.pid) is True
    finally:
        v.stop()


def test_a_relative_data_dir_works_from_any_directory(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`DATA_DIR=.mydata ticketing up`: the data dir is resolved once, against the directory
    the command ran in, so Valkey (which runs in its own directory) and every child process
    (which run in the project's) find the same place."""
    from ticketing_app.settings import Settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", ".mydata")
    settings = Settings(app_env="test")
    v = embedded.valkey(workdir=settings.data_dir / "valkey").start()
    v.stop()
    assert settings.data_dir == tmp_path / ".mydata"
    assert settings.effective_database_url == \
        f"sqlite+aiosqlite:///{tmp_path / '.mydata' / 'ticketing.db'}"
