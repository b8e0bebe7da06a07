"""Alembic environment of the cart database (SQLite by default, PostgreSQL when configured)."""

from musicstore.cart.models import CartBase
from musicstore.common.migrate import run_migrations

run_migrations(CartBase.metadata, lock_id=5002)
