"""waiting room: the bot check's difficulty per event (proof-of-work leading zero bits)

Expand only: one new column with a server default, so the previous release keeps working
against the migrated schema (it neither reads nor writes the column; events it creates get the
default). 0 switches the check off.

Revision ID: 0006_pow
Revises: 0005_cancel_kind
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_pow"
down_revision: str | None = "0005_cancel_kind"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Expand-then-contract (migrations/README.md): upgrade() only adds.
CONTRACT = False

DEFAULT_BITS = "17"  # ticketing_app.domain.pow.DEFAULT_BITS when this was written


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("waiting_room_difficulty", sa.Integer(), nullable=False,
                                   server_default=DEFAULT_BITS))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("waiting_room_difficulty")
