"""venue editor: a seat is drawn at its own place (x, y in seat widths), apart from its row
and number, so a row can be shifted, curved or renumbered without moving its seats

Expand only: two nullable columns on the venue's seats and on every event's copy; NULL means
"at its grid place" (x = c, y = r), so the previous release and every existing row keep
drawing exactly as before.

Revision ID: 0012_venue_editor
Revises: 0011_accessible_seating
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_venue_editor"
down_revision: str | None = "0011_accessible_seating"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Expand-then-contract (migrations/README.md): upgrade() only adds.
CONTRACT = False


def upgrade() -> None:
    for table in ("venue_seats", "seats"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("x", sa.Float(), nullable=True))
            batch.add_column(sa.Column("y", sa.Float(), nullable=True))


def downgrade() -> None:
    for table in ("venue_seats", "seats"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("y")
            batch.drop_column("x")
