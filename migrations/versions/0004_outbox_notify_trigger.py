"""outbox: PostgreSQL announces new rows itself (a statement trigger calling pg_notify), so a
write transaction no longer spends a round trip on `SELECT pg_notify(...)`

Expand only: the previous release still notifies by hand (a second NOTIFY in the same
transaction is folded into one by PostgreSQL). SQLite has no NOTIFY; its relay polls.

Revision ID: 0004_outbox_notify
Revises: 0003_admin
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_outbox_notify"
down_revision: str | None = "0003_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "tk_outbox"  # ticketing_app.services.uow.OUTBOX_CHANNEL


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"""
        CREATE OR REPLACE FUNCTION tk_outbox_notify() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
    """)
    op.execute("""
        CREATE TRIGGER tk_outbox_notify AFTER INSERT ON outbox
        FOR EACH STATEMENT EXECUTE FUNCTION tk_outbox_notify()
    """)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS tk_outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS tk_outbox_notify()")
