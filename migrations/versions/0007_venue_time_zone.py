"""venues carry a time zone: event times are shown in it, to every reader

Expand only: one new column with a server default (the zone of the original system's
venues), so the previous release keeps working against the migrated schema.

Revision ID: 0007_venue_tz
Revises: 0006_pow
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_venue_tz"
down_revision: str | None = "0006_pow"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Expand-then-contract (migrations/README.md): upgrade() only adds.
CONTRACT = False


def upgrade() -> None:
    with op.batch_alter_table("venues") as batch:
        batch.add_column(sa.Column("time_zone", sa.String(length=64), nullable=False,
                                   server_default="Asia/Seoul"))


def downgrade() -> None:
    with op.batch_alter_table("venues") as batch:
        batch.drop_column("time_zone")
