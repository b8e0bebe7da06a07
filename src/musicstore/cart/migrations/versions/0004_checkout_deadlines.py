"""A checkout remembers its deadline (no step of it runs later) and whether a shopper waits for its outcome.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add checkout_attempts.deadline and .shopper_waiting (empty for earlier attempts), and an index on status."""
    with op.batch_alter_table("checkout_attempts") as table:
        table.add_column(sa.Column("deadline", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("shopper_waiting", sa.Boolean(), nullable=False, server_default=sa.false()))
        table.create_index("ix_checkout_attempts_status", ["status"])


def downgrade() -> None:
    """Drop the two columns and the index."""
    with op.batch_alter_table("checkout_attempts") as table:
        table.drop_index("ix_checkout_attempts_status")
        table.drop_column("shopper_waiting")
        table.drop_column("deadline")
