"""The orders' version: a number the database moves on with every change to an order or its lines.

Triggers bump it in the same transaction as the change (any insert, update or delete of orders or order_lines,
and a TRUNCATE on PostgreSQL), so the order list cache (orders/list_cache.py), which reads it before every answer,
never serves a list from before a commit, whichever worker, replica or SQL session made it. A later migration
that copies either table on SQLite (batch mode) drops its triggers with the old table: it must create them again
(tests/orders/test_list_cache.py fails otherwise).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("orders", "order_lines")
EVENTS = ("INSERT", "UPDATE", "DELETE")
BUMP = "UPDATE orders_version SET version = version + 1 WHERE id = 1"
PG_FUNCTION = f"""
CREATE FUNCTION bump_orders_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {BUMP};
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    """Create the one-row version table and the triggers that move it."""
    op.create_table(
        "orders_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1", name="ck_orders_version_one_row"),
    )
    op.execute("INSERT INTO orders_version (id, version) VALUES (1, 1)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for table in TABLES:
            # Once per statement, not per row: a bulk change bumps it once.
            op.execute(
                f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bump_orders_version()"
            )
        return
    # SQLite has row triggers only, one event each; a DELETE without WHERE still fires them (no truncation
    # shortcut on a table with triggers).
    for table in TABLES:
        for event in EVENTS:
            op.execute(f"CREATE TRIGGER {table}_{event.lower()}_bumps AFTER {event} ON {table} BEGIN {BUMP}; END")


def downgrade() -> None:
    """Drop the triggers, the function and the table."""
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_changed ON {table}")
        op.execute("DROP FUNCTION bump_orders_version()")
    else:
        for table in TABLES:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER {table}_{event.lower()}_bumps")
    op.drop_table("orders_version")
