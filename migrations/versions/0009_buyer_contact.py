"""buyers: name and e-mail on orders (checkout), the web app's hold times per event, and the
cancellation reason buyers are shown

Expand only: new columns, each nullable or with a server default, so the previous release
keeps working against the migrated schema.

Revision ID: 0009_buyer_contact
Revises: 0008_admin_roles
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_buyer_contact"
down_revision: str | None = "0008_admin_roles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Expand-then-contract (migrations/README.md): upgrade() only adds.
CONTRACT = False


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("web_hold_s", sa.Integer(), nullable=False,
                                   server_default="600"))
        batch.add_column(sa.Column("web_hold_max_total_s", sa.Integer(), nullable=False,
                                   server_default="1800"))
        batch.add_column(sa.Column("cancel_reason", sa.String(length=300), nullable=False,
                                   server_default=""))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("buyer_name", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("buyer_email", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("locale", sa.String(length=8), nullable=False,
                                   server_default=""))
    op.create_index("ix_orders_buyer_email", "orders", ["buyer_email"])


def downgrade() -> None:
    op.drop_index("ix_orders_buyer_email", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("locale")
        batch.drop_column("buyer_email")
        batch.drop_column("buyer_name")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("cancel_reason")
        batch.drop_column("web_hold_max_total_s")
        batch.drop_column("web_hold_s")
