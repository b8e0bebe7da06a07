"""Where orders are kept, and making the database ready."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect

from musicstore.orders import prepare
from tests.orders.conftest import order_settings


def test_orders_live_in_data_dir_orders_db_by_default(data_dir: Path) -> None:
    assert order_settings(data_dir).database_url() == f"sqlite:///{data_dir / 'orders.db'}"


def test_order_db_path_and_a_postgres_url_override_the_default(data_dir: Path) -> None:
    assert order_settings(data_dir, ORDER_DB_PATH=Path("/x/o.db")).database_url() == "sqlite:////x/o.db"
    url = order_settings(data_dir, database_url="postgres://u:p@db:5432/orders").database_url()
    assert url == "postgresql+psycopg://u:p@db:5432/orders"


def test_prepare_makes_the_folder_and_the_tables_and_can_run_twice(tmp_path: Path) -> None:
    settings = order_settings(tmp_path / "new" / "var")
    prepare(settings)
    prepare(settings)
    engine = create_engine(settings.database_url())
    try:
        assert {"orders", "order_lines", "alembic_version"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
