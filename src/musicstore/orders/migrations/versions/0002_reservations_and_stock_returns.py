"""An order keeps its reservation id; the outbox of stock returns for cancelled orders.

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
    """Add orders.reservation_id and the stock_returns table."""
    # Batch mode (env.py turns it on for SQLite) copies the table where SQLite cannot ALTER in place.
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("reservation_id", sa.String(64), nullable=True))
        batch.create_index("ix_orders_reservation_id", ["reservation_id"])
    op.create_table(
        "stock_returns",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("reservation_id", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
    )
    op.create_index("ix_stock_returns_due", "stock_returns", ["done_at", "next_attempt_at"])


def downgrade() -> None:
    """Drop the outbox and the orders' reservation ids."""
    op.drop_table("stock_returns")
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_reservation_id")
        batch.drop_column("reservation_id")
