"""Alembic environment of the orders database (SQLite or PostgreSQL)."""

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text

from musicstore.orders.models import OrdersBase

LOCK_ID = 5001  # one migration at a time on PostgreSQL, however many replicas start together


def _migrate(connection: Connection) -> None:
    # SQLite cannot ALTER most things in place; batch mode lets later migrations copy-and-move tables.
    context.configure(
        connection=connection, target_metadata=OrdersBase.metadata, render_as_batch=connection.dialect.name == "sqlite"
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Apply migrations, under an advisory lock on PostgreSQL."""
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as connection:
        if connection.dialect.name != "postgresql":
            _migrate(connection)
        else:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": LOCK_ID})
            connection.commit()
            try:
                _migrate(connection)
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": LOCK_ID})
                connection.commit()
    engine.dispose()


run_migrations_online()
