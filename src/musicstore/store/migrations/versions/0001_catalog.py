"""Catalog: albums and stock reservations.

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
    """Create the catalog tables and the indexes search and paging need."""
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "albums",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("artist", sa.String(200), nullable=False),
        sa.Column("genre", sa.String(50), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("price", sa.Numeric(10, 2), nullable=False),
        sa.Column("stock", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cover", sa.String(100)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("stock >= 0", name="ck_albums_stock_not_negative"),
        sa.CheckConstraint("price >= 0", name="ck_albums_price_not_negative"),
    )
    op.create_index("ix_albums_title_id", "albums", ["title", "id"])
    op.create_index("ix_albums_genre_title_id", "albums", ["genre", "title", "id"])
    op.execute("CREATE INDEX ix_albums_title_trgm ON albums USING gin (lower(title) gin_trgm_ops)")
    op.execute("CREATE INDEX ix_albums_artist_trgm ON albums USING gin (lower(artist) gin_trgm_ops)")
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(50), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    op.create_table(
        "reservations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "reservation_lines",
        sa.Column(
            "reservation_id", sa.String(64), sa.ForeignKey("reservations.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("album_id", sa.Integer, primary_key=True),
        sa.Column("quantity", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    """Drop the catalog tables."""
    op.drop_table("reservation_lines")
    op.drop_table("reservations")
    op.drop_table("store_meta")
    op.drop_table("albums")
