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


def pending_revisions(url: str) -> list[str]:
    """Revisions between the database and head ([] when current): `ticketing migrate
    --check`, used as the migration container's healthcheck and by deploy scripts."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    cfg = alembic_config(url)
    script = ScriptDirectory.from_config(cfg)
    engine = create_engine(cfg.attributes["url"])
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()
    heads = set(script.get_heads())
    if current == heads:
        return []
    lower = next(iter(current)) if len(current) == 1 else "base"
    return [rev.revision for rev in script.iterate_revisions("heads", lower)]
