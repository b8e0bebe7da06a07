"""The order service's settings, read from the environment in one place."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from musicstore.common.settings import OwnDatabase


class OrderSettings(OwnDatabase):
    """Where orders live: a SQLite file by default, PostgreSQL when ORDER_DATABASE_URL is set."""

    DATABASE_PREFIX, SQLITE_FILE = "ORDER", "orders.db"
    ORDER_DB_PATH: Path | None = None
    ORDER_DATABASE_URL: str = ""
    # Cancelled orders' stock goes back to the store from a worker thread in each process; false leaves
    # the outbox to other processes (or replicas) that run it.
    STOCK_RETURN_WORKER: bool = True
    STOCK_RETURN_FIRST_RETRY: float = Field(default=1.0, gt=0, le=60)
    STOCK_RETURN_MAX_RETRY: float = Field(default=30.0, gt=0, le=3600)
    STOCK_RETURN_POLL: float = Field(default=10.0, gt=0, le=3600)  # at most this long between looks at the outbox
