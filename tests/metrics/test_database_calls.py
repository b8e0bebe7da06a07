"""Database calls are counted by the node they go to (db_client_queries_total{db, outcome} and
db_client_query_duration_seconds{db}): "postgres" for PostgreSQL, "cart-db" and "orders-db" for the SQLite files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from musicstore import orders, store
from musicstore.common.db import database_node, get_database
from musicstore.common.embedded_pg import EmbeddedPostgres
from musicstore.common.metrics import get_metrics
from tests.cart.conftest import cart_settings, make_app
from tests.cart.fakes import FakeOrders, FakeStore
from tests.conftest import new_database
from tests.metrics.conftest import samples, value
from tests.orders.conftest import order_settings
from tests.store.conftest import store_settings


def queries(app: Flask) -> dict[frozenset[tuple[str, str]], float]:
    return samples(get_metrics(app).exposition(), "db_client_queries_total")


def timed(app: Flask) -> dict[frozenset[tuple[str, str]], float]:
    return samples(get_metrics(app).exposition(), "db_client_query_duration_seconds_count")


def run(app: Flask, statement: str) -> None:
    with get_database(app).engine.connect() as connection:
        connection.execute(text(statement))


@pytest.fixture()
def cart_app(data_dir: Path) -> Iterator[Flask]:
    app = make_app(cart_settings(data_dir), FakeStore(), FakeOrders())
    yield app
    get_database(app).dispose()


@pytest.fixture()
def orders_on_postgres(pg_server: EmbeddedPostgres, data_dir: Path) -> Iterator[Flask]:
    settings = order_settings(data_dir, database_url=new_database(pg_server, "metrics_orders"))
    orders.prepare(settings)
    app = orders.create_app(settings, TESTING=True)
    yield app
    get_database(app).dispose()


@pytest.fixture()
def store_app(pg_server: EmbeddedPostgres, data_dir: Path) -> Iterator[Flask]:
    app = store.create_app(store_settings(new_database(pg_server, "metrics_store"), data_dir), TESTING=True)
    yield app
    get_database(app).dispose()


@pytest.mark.parametrize(
    ("url", "service", "node"),
    [
        ("postgresql+psycopg://music_user:secret@postgres:5432/music_store", "store", "postgres"),
        ("postgresql://music_user:secret@postgres:5432/carts", "cart", "postgres"),
        ("postgresql://music_user:secret@db:5432/orders", "orders", "postgres"),
        ("sqlite:////data/cart.db", "cart", "cart-db"),
        ("sqlite:////data/orders.db", "orders", "orders-db"),
    ],
)
def test_the_database_is_named_as_the_node_the_service_map_draws(url: str, service: str, node: str) -> None:
    assert database_node(url, service) == node


@pytest.mark.parametrize("app_fixture", ["cart_app", "orders_app", "orders_on_postgres", "store_app"])
def test_each_query_is_counted_and_timed_under_its_database_node(
    app_fixture: str, request: pytest.FixtureRequest
) -> None:
    app: Flask = request.getfixturevalue(app_fixture)
    node = {"cart_app": "cart-db", "orders_app": "orders-db"}.get(app_fixture, "postgres")
    run(app, "SELECT 1")
    before, timed_before = value(queries(app), db=node, outcome="ok"), value(timed(app), db=node)
    for _ in range(3):
        run(app, "SELECT 1")
    assert value(queries(app), db=node, outcome="ok") == before + 3
    assert value(timed(app), db=node) == timed_before + 3
    assert {dict(labels)["db"] for labels in queries(app)} == {node}


def test_a_request_that_reads_the_database_counts_its_queries(orders_app: Flask) -> None:
    assert value(queries(orders_app), db="orders-db", outcome="ok") == 0
    assert orders_app.test_client().get("/readyz").status_code == 200
    assert value(queries(orders_app), db="orders-db", outcome="ok") >= 1


@pytest.mark.parametrize(("app_fixture", "node"), [("orders_app", "orders-db"), ("store_app", "postgres")])
def test_a_failed_query_counts_as_an_error_and_is_timed(
    app_fixture: str, node: str, request: pytest.FixtureRequest
) -> None:
    app: Flask = request.getfixturevalue(app_fixture)
    with pytest.raises((OperationalError, ProgrammingError)):
        run(app, "SELECT * FROM no_such_table")
    assert value(queries(app), db=node, outcome="error") == 1
    assert value(timed(app), db=node) == value(queries(app), db=node, outcome="ok") + 1
