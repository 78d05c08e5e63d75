"""after the sale: buyer contacts for e-mailed tickets, a notification's recipient, an index
on tickets by event and status

Expand only: a new table, a nullable column and an index, so the previous release keeps
working against the migrated schema.

Revision ID: 0003_admin
Revises: 0002_onsale
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003_admin"
down_revision: str | None = "0002_onsale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "buyer_contacts",
        sa.Column("buyer_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("buyer_id"),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=254),
                                      nullable=True))
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_status", ["event_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_status")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("recipient")
    op.drop_table("buyer_contacts")
