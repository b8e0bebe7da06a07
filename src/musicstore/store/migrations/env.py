"""Alembic environment of the store's catalog database."""

from alembic import context
from sqlalchemy import create_engine, pool, text

from musicstore.store.models import StoreBase

LOCK_ID = 5000  # one migration at a time, however many replicas start together


def run_migrations_online() -> None:
    """Apply migrations under a PostgreSQL advisory lock."""
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": LOCK_ID})
        connection.commit()
        try:
            context.configure(connection=connection, target_metadata=StoreBase.metadata)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": LOCK_ID})
            connection.commit()
    engine.dispose()


run_migrations_online()
