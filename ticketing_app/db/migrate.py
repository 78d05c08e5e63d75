"""Run Alembic migrations from code (the CLI's `migrate`, `up`, and test fixtures)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from ticketing_app.settings import PROJECT_ROOT, to_sync_url


def alembic_config(url: str) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["url"] = to_sync_url(url)
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
