"""admin roles (manager, door staff) and a buyer's name for the box office's search

Expand only: `admin_users.role` with a server default (every existing admin stays a
manager), `buyer_contacts.name` nullable, and indexes for the order search (e-mail and name
lookups), so the previous release keeps working against the migrated schema.

Revision ID: 0008_admin_roles
Revises: 0007_venue_tz
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_admin_roles"
down_revision: str | None = "0007_venue_tz"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Expand-then-contract (migrations/README.md): upgrade() only adds.
CONTRACT = False


def upgrade() -> None:
    with op.batch_alter_table("admin_users") as batch:
        batch.add_column(sa.Column("role", sa.String(length=20), nullable=False,
                                   server_default="manager"))
    with op.batch_alter_table("buyer_contacts") as batch:
        batch.add_column(sa.Column("name", sa.String(length=200), nullable=True))
    op.create_index("ix_buyer_contacts_email", "buyer_contacts", ["email"])


def downgrade() -> None:
    op.drop_index("ix_buyer_contacts_email", table_name="buyer_contacts")
    with op.batch_alter_table("buyer_contacts") as batch:
        batch.drop_column("name")
    with op.batch_alter_table("admin_users") as batch:
        batch.drop_column("role")
