"""The catalog's version: a number the database moves on with every change a shopper must never miss.

A trigger bumps it in the same transaction as the change: an album added or deleted (or the table emptied), or
an album's title, artist, genre, year, price or cover changed. Stock changes do not bump it: the stores' caches
may show stock up to a second old (reservations stay the authority). A cache that reads the version before it
answers can therefore never serve a price or a deleted album after the change's commit, in any worker or replica.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BUMP = """
CREATE FUNCTION bump_catalog_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END $$
"""
SHOWN = ("title", "artist", "genre", "year", "price", "cover")


def upgrade() -> None:
    """Create the one-row version table and the triggers that move it."""
    op.create_table(
        "catalog_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1", name="ck_catalog_version_one_row"),
    )
    op.execute("INSERT INTO catalog_version (id, version) VALUES (1, 1)")
    op.execute(BUMP)
    op.execute(
        "CREATE TRIGGER albums_added_or_deleted AFTER INSERT OR DELETE OR TRUNCATE ON albums "
        "FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version()"
    )
    changed = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in SHOWN)
    op.execute(
        f"CREATE TRIGGER albums_details_changed AFTER UPDATE OF {', '.join(SHOWN)} ON albums "
        f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION bump_catalog_version()"
    )


def downgrade() -> None:
    """Drop the triggers, the function and the table."""
    op.execute("DROP TRIGGER albums_details_changed ON albums")
    op.execute("DROP TRIGGER albums_added_or_deleted ON albums")
    op.execute("DROP FUNCTION bump_catalog_version()")
    op.drop_table("catalog_version")
