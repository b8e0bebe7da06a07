"""Apply a service's Alembic migrations programmatically."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config


def alembic_config(script_location: Path, url: str) -> Config:
    """An Alembic config for one service's migrations folder and database."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(script_location: Path, url: str) -> None:
    """Bring the database at `url` to the newest schema."""
    command.upgrade(alembic_config(script_location, url), "head")
