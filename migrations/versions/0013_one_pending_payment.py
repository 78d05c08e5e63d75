"""one pending payment per order: a partial unique index, so starting a payment can be one
statement (the API's authorize on PostgreSQL) whose concurrent twin cannot add a second
pending attempt, whatever its snapshot saw (services/payments.py)

Expand only: the index states what the order's row lock already kept true (an order has at
most one live payment attempt), so existing data satisfies it.

Revision ID: 0013_one_pending_payment
Revises: 0012_venue_editor
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_one_pending_payment"
down_revision: str | None = "0012_venue_editor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Expand-then-contract (migrations/README.md): upgrade() only adds.
CONTRACT = False

PENDING = sa.text("status = 'PENDING'")


def upgrade() -> None:
    op.create_index("uq_payments_one_pending", "payments", ["order_id"], unique=True,
                    postgresql_where=PENDING, sqlite_where=PENDING)


def downgrade() -> None:
    op.drop_index("uq_payments_one_pending", table_name="payments")
