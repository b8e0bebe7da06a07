"""Alembic environment of the cart database (SQLite by default, PostgreSQL when configured)."""

from alembic import context
from sqlalchemy import create_engine, pool, text

from musicstore.cart.models import CartBase

LOCK_ID = 5002  # on PostgreSQL, one migration at a time however many replicas start together


def run_migrations_online() -> None:
    """Apply migrations; under an advisory lock on PostgreSQL, in batch mode on SQLite."""
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as connection:
        if postgres:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": LOCK_ID})
            connection.commit()
        try:
            context.configure(connection=connection, target_metadata=CartBase.metadata, render_as_batch=not postgres)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if postgres:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": LOCK_ID})
                connection.commit()
    engine.dispose()


run_migrations_online()
