"""The orders migrations: an existing database keeps its orders, and ends with the tables the models describe."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from musicstore.common.embedded_pg import EmbeddedPostgres
from musicstore.common.migrate import alembic_config
from musicstore.common.settings import sqlite_url
from musicstore.orders import MIGRATIONS
from musicstore.orders.models import OrdersBase
from tests.conftest import new_database

AN_ORDER = """
INSERT INTO orders (idempotency_key, request_hash, tracking_token, customer_name, customer_email,
                    card_brand, card_last4, total, status, created_at, updated_at)
VALUES ('k-1', 'h', 't-0123456789abcdefghij', 'Ada', 'ada@example.com', 'Visa', '4242', 1299, 'pending',
        '2025-01-31 12:00:00+00', '2025-01-31 12:00:00+00')
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend."""
    if request.param == "postgresql":
        server: EmbeddedPostgres = request.getfixturevalue("pg_server")
        return new_database(server, f"orders_migrations_{uuid.uuid4().hex[:12]}")
    return sqlite_url(tmp_path / "orders.db")


def test_an_order_made_before_reservation_ids_is_kept_and_has_none(fresh_url: str) -> None:
    command.upgrade(alembic_config(MIGRATIONS, fresh_url), "0001")
    engine = create_engine(fresh_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(AN_ORDER))
        command.upgrade(alembic_config(MIGRATIONS, fresh_url), "head")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT idempotency_key, total, reservation_id FROM orders")).all()
        assert [tuple(r) for r in rows] == [("k-1", 1299, None)]
        assert "stock_returns" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_the_migrated_schema_is_the_one_the_models_describe(fresh_url: str) -> None:
    command.upgrade(alembic_config(MIGRATIONS, fresh_url), "head")
    engine = create_engine(fresh_url)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), OrdersBase.metadata)
        assert differences == []
    finally:
        engine.dispose()


def test_the_migration_goes_back_down_to_the_first_schema(fresh_url: str) -> None:
    config = alembic_config(MIGRATIONS, fresh_url)
    command.upgrade(config, "head")
    command.downgrade(config, "0001")
    engine = create_engine(fresh_url)
    try:
        assert "stock_returns" not in inspect(engine).get_table_names()
        assert "reservation_id" not in {c["name"] for c in inspect(engine).get_columns("orders")}
    finally:
        engine.dispose()
