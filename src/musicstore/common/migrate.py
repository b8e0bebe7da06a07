"""Apply a service's Alembic migrations programmatically."""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, pool, text


def alembic_config(script_location: Path, url: str) -> Config:
    """An Alembic config for one service's migrations folder and database."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(script_location: Path, url: str) -> None:
    """Bring the database at `url` to the newest schema."""
    command.upgrade(alembic_config(script_location, url), "head")


def run_migrations(metadata: MetaData, lock_id: int) -> None:
    """The body of every service's Alembic env.py: apply the migrations to the configured database.

    On PostgreSQL under an advisory lock (`lock_id`, one per service), so replicas that start together
    migrate one at a time; on SQLite in batch mode, since SQLite alters most things by copying the table.
    """
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as connection:
        if postgres:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
            connection.commit()
        try:
            context.configure(connection=connection, target_metadata=metadata, render_as_batch=not postgres)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if postgres:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
                connection.commit()
    engine.dispose()
