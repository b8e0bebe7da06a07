"""Checkout attempts count their runs and remember a release they owe the store.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add checkout_attempts.attempt and checkout_attempts.release_owed."""
    with op.batch_alter_table("checkout_attempts") as table:
        table.add_column(sa.Column("attempt", sa.Integer, nullable=False, server_default="1"))
        table.add_column(sa.Column("release_owed", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    """Drop the two columns."""
    with op.batch_alter_table("checkout_attempts") as table:
        table.drop_column("release_owed")
        table.drop_column("attempt")
