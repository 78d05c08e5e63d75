"""box office: comps and named reservations (orders.kind and the named customer), presale
windows and access codes, and the waitlist of sold-out events

Expand only: new columns with server defaults (or nullable) and new tables, so the previous
release keeps working against the migrated schema (it writes orders of kind 'SALE' by the
default and never reads the new tables).

Revision ID: 0010_comps
Revises: 0009_buyer_contact
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_comps"
down_revision: str | None = "0009_buyer_contact"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Expand-then-contract (migrations/README.md): upgrade() only adds.
CONTRACT = False


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=20), nullable=False,
                                   server_default="SALE"))
        batch.add_column(sa.Column("customer_name", sa.String(length=200), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("customer_email", sa.String(length=254), nullable=False,
                                   server_default=""))
        batch.create_index("ix_orders_kind", ["event_id", "kind"])
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("presale_starts_at", sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("public_sale_starts_at", sa.DateTime(timezone=True),
                                   nullable=True))
    op.create_table(
        "access_codes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("events.id"), nullable=False,
                  index=True),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("event_id", "code"),
    )
    op.create_table(
        "access_code_uses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("events.id"), nullable=False),
        sa.Column("code_id", sa.Integer(), sa.ForeignKey("access_codes.id"), nullable=False,
                  index=True),
        sa.Column("buyer_id", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("event_id", "buyer_id"),
    )
    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("events.id"), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False, server_default="WAITING"),
        sa.Column("offer_token", sa.String(length=64), nullable=False, server_default=""),
        sa.Column("seat_ids", sa.String(length=400), nullable=False, server_default=""),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("event_id", "email"),
        sa.Index("ix_waitlist_queue", "event_id", "status", "id"),
    )


def downgrade() -> None:
    op.drop_table("waitlist_entries")
    op.drop_table("access_code_uses")
    op.drop_table("access_codes")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("public_sale_starts_at")
        batch.drop_column("presale_starts_at")
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_kind")
        batch.drop_column("customer_email")
        batch.drop_column("customer_name")
        batch.drop_column("kind")
