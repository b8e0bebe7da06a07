"""Carts, cart lines and checkout attempts.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the cart tables."""
    op.create_table(
        "carts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "cart_items",
        sa.Column("cart_id", sa.String(64), sa.ForeignKey("carts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("album_id", sa.Integer, primary_key=True),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_cart_items_quantity_positive"),
    )
    op.create_table(
        "checkout_attempts",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("cart_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("order_id", sa.Integer),
        sa.Column("order_number", sa.String(64)),
        sa.Column("total", sa.Numeric(10, 2)),
        sa.Column("tracking_url", sa.String(500)),
        sa.Column("error", sa.String(500)),
        sa.Column("error_status", sa.Integer),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_checkout_attempts_cart_id", "checkout_attempts", ["cart_id"])


def downgrade() -> None:
    """Drop the cart tables."""
    op.drop_index("ix_checkout_attempts_cart_id", "checkout_attempts")
    op.drop_table("checkout_attempts")
    op.drop_table("cart_items")
    op.drop_table("carts")
