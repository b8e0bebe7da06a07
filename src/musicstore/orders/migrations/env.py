"""Alembic environment of the orders database (SQLite or PostgreSQL)."""

from musicstore.common.migrate import run_migrations
from musicstore.orders.models import OrdersBase

run_migrations(OrdersBase.metadata, lock_id=5001)
