"""Apply a service's Alembic migrations programmatically.

Alembic is imported by the functions that use it: migrations run in a service's preparation (`musicstore serve`,
`db upgrade`), never in the processes that serve requests, which import this module with their service's package.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import MetaData, create_engine, inspect, pool, text
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config(script_location: Path, url: str) -> Config:
    """An Alembic config for one service's migrations folder and database."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(script_location: Path, url: str) -> None:
    """Bring the database at `url` to the newest schema (Alembic is not even imported when it is there)."""
    if at_head(script_location, url):
        return
    from alembic import command

    command.upgrade(alembic_config(script_location, url), "head")


def at_head(script_location: Path, url: str) -> bool:
    """True when the database's schema is the newest migration's: one cheap query, no Alembic.

    The newest is the one revision no other revises, read from the `revision = "..."` and `down_revision = ...`
    lines every migration file has. Anything unexpected (no version table yet, several heads, a file not in
    that form) answers False, and Alembic then does the real work.
    """
    head = _head(script_location / "versions")
    if head is None:
        return False
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return False  # a new database: asked first, so the server logs no failed statement at a first start
            found = list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    return found == [head]


_REVISION = re.compile(r'^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:"([^"]*)"|None)\s*$', re.MULTILINE)


def _head(versions: Path) -> str | None:
    revisions: set[str] = set()
    revised: set[str | None] = set()
    for path in versions.glob("*.py"):
        found = {name: value or None for name, value in _REVISION.findall(path.read_text())}
        if not found.get("revision"):
            return None
        revisions.add(found["revision"] or "")
        revised.add(found.get("down_revision"))
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


def run_migrations(metadata: MetaData, lock_id: int) -> None:
    """The body of every service's Alembic env.py: apply the migrations to the configured database.

    On PostgreSQL under an advisory lock (`lock_id`, one per service), so replicas that start together
    migrate one at a time; on SQLite in batch mode, since SQLite alters most things by copying the table.
    """
    from alembic import context

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
