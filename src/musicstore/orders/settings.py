"""The order service's settings, read from the environment in one place."""

from __future__ import annotations

from pathlib import Path

from musicstore.common.settings import ServiceSettings, normalise_postgres_url, sqlite_url


class OrderSettings(ServiceSettings):
    """Where orders live: a SQLite file by default, PostgreSQL when ORDER_DATABASE_URL is set."""

    ORDER_DB_PATH: Path | None = None
    ORDER_DATABASE_URL: str = ""

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file used when no PostgreSQL URL is given."""
        return self.ORDER_DB_PATH or self.DATA_DIR / "orders.db"

    def uses_sqlite(self) -> bool:
        """True when orders are kept in the local SQLite file."""
        return not self.ORDER_DATABASE_URL

    def database_url(self) -> str:
        """The SQLAlchemy URL of the orders database."""
        if self.ORDER_DATABASE_URL:
            return normalise_postgres_url(self.ORDER_DATABASE_URL)
        return sqlite_url(self.sqlite_path)
