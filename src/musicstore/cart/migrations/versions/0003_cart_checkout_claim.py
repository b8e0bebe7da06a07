"""A cart remembers which checkout key is paying for it, so two windows cannot pay for it at once.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add carts.checkout_key and carts.checkout_started (both empty: no checkout running)."""
    with op.batch_alter_table("carts") as table:
        table.add_column(sa.Column("checkout_key", sa.String(64), nullable=True))
        table.add_column(sa.Column("checkout_started", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop the two columns."""
    with op.batch_alter_table("carts") as table:
        table.drop_column("checkout_started")
        table.drop_column("checkout_key")
