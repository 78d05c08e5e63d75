"""accessible seating: seats say what they offer (wheelchair space, companion seat,
restricted view, aisle), and each event says who may hold its wheelchair spaces and when
they open to everyone

Expand only: new columns with server defaults, so the previous release keeps working.

Revision ID: 0011_accessible_seating
Revises: 0010_comps
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_accessible_seating"
down_revision: str | None = "0010_comps"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Expand-then-contract (migrations/README.md): upgrade() only adds.
CONTRACT = False


def upgrade() -> None:
    for table in ("venue_seats", "seats"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("features", sa.String(length=60), nullable=False,
                                       server_default=""))
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("wheelchair_policy", sa.String(length=20), nullable=False,
                                   server_default="declared"))
        batch.add_column(sa.Column("wheelchair_release_hours", sa.Integer(), nullable=False,
                                   server_default="48"))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("wheelchair_release_hours")
        batch.drop_column("wheelchair_policy")
    for table in ("venue_seats", "seats"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("features")
