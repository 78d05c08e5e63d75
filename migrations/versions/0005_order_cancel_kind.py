"""orders.cancel_kind: why an order was cancelled, so a payment that arrives afterwards can
tell a lapsed payment window (the late-payment policy may re-confirm) from a cancellation by
the buyer, the organiser or the event's cancellation (always refunded)

Expand only: a column with a server default, so the previous release (which does not write
it) keeps inserting orders; rows it cancels keep '' and are told apart by their close reason
(`domain.orders.late_payment_may_confirm`). Existing cancelled orders are backfilled from
their close reason.

Revision ID: 0005_cancel_kind
Revises: 0004_outbox_notify
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005_cancel_kind"
down_revision: str | None = "0004_outbox_notify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# close_reason -> cancel_kind, as the previous releases wrote them.
BACKFILL = (
    ("payment window expired", "LAPSED"),
    ("cancelled by buyer", "BUYER"),
    ("event cancelled", "EVENT"),
    ("payment failed", "PAYMENT"),
    ("payment timed_out", "PAYMENT"),
)


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancel_kind", sqlmodel.sql.sqltypes.AutoString(length=20),
                                      nullable=False, server_default=""))
    orders = sa.table("orders", sa.column("status", sa.String),
                      sa.column("close_reason", sa.String), sa.column("cancel_kind", sa.String))
    for reason, kind in BACKFILL:
        op.execute(orders.update()
                   .where(orders.c.status == "CANCELLED", orders.c.close_reason == reason,
                          orders.c.cancel_kind == "")
                   .values(cancel_kind=kind))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("cancel_kind")
