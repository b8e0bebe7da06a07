"""Alembic environment of the store's catalog database."""

from musicstore.common.migrate import run_migrations
from musicstore.store.models import StoreBase

run_migrations(StoreBase.metadata, lock_id=5000)
