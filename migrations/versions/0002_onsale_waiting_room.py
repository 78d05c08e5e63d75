"""on-sale: automatic waiting room and admission capacity per event

Expand only: three new columns with server defaults, so running code of the previous release
keeps working against the migrated schema.

Revision ID: 0002_onsale
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_onsale"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("waiting_room_auto", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("waiting_room_auto_threshold", sa.Integer(), nullable=False,
                                   server_default="200"))
        batch.add_column(sa.Column("waiting_room_capacity", sa.Integer(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("waiting_room_capacity")
        batch.drop_column("waiting_room_auto_threshold")
        batch.drop_column("waiting_room_auto")
