"""The store's settings, read from the environment in one place."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from musicstore.common.settings import PostgresSettings, ServiceSettings


class StoreSettings(ServiceSettings, PostgresSettings):
    """Catalog database, cover storage and upload limits."""

    COVERS_DIR: Path | None = None
    MAX_COVER_BYTES: int = Field(default=2 * 1024 * 1024, ge=1024)
    LOW_STOCK_THRESHOLD: int = Field(default=3, ge=0)
    # How old the stock on a cached shop page or album answer may be (store/cache.py); 0 turns the cache off.
    # Prices, titles and deletions are never served stale, whatever this is.
    CATALOG_CACHE_SECONDS: float = Field(default=1.0, ge=0, le=60)

    @property
    def covers_dir(self) -> Path:
        """Where cover images live."""
        return self.COVERS_DIR or self.DATA_DIR / "covers"
