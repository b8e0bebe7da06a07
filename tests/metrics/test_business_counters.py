"""Business counters live on each service's metrics beside the request metrics: orders created, payments
declined, stock reservations refused, stock returned, and faults injected by flag in every service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from musicstore import store
from musicstore.common.db import get_database
from musicstore.common.embedded_pg import EmbeddedPostgres
from musicstore.common.metrics import count_fault, get_metrics
from musicstore.common.migrate import upgrade
from tests.cart.conftest import cart_settings, make_app
from tests.cart.fakes import FakeOrders, FakeStore
from tests.conftest import new_database
from tests.metrics.conftest import samples, value
from tests.store.conftest import SERVICE_TOKEN, create_album, store_settings

SERVICE = {"Authorization": f"Bearer {SERVICE_TOKEN}"}


@pytest.fixture()
def cart_app(data_dir: Path) -> Iterator[Flask]:
    app = make_app(cart_settings(data_dir), FakeStore(), FakeOrders())
    yield app
    get_database(app).dispose()


@pytest.fixture()
def store_app(pg_server: EmbeddedPostgres, data_dir: Path) -> Iterator[Flask]:
    url = new_database(pg_server, "metrics_business")
    upgrade(store.MIGRATIONS, url)
    app = store.create_app(store_settings(url, data_dir), TESTING=True)
    yield app
    get_database(app).dispose()


def families(app: Flask) -> set[str]:
    return {family.name for family in text_string_to_metric_families(get_metrics(app).exposition())}


def test_each_service_has_its_business_counters_and_the_fault_counter(
    cart_app: Flask, orders_app: Flask, store_app: Flask
) -> None:
    assert {"payments_declined", "faults_injected"} <= families(cart_app)
    assert {"orders_created", "stock_return_deliveries", "faults_injected"} <= families(orders_app)
    assert {"stock_reservations_refused", "stock_returned", "faults_injected"} <= families(store_app)


@pytest.mark.parametrize("app_fixture", ["cart_app", "orders_app", "store_app"])
def test_an_injected_fault_is_counted_by_its_flag(app_fixture: str, request: pytest.FixtureRequest) -> None:
    app: Flask = request.getfixturevalue(app_fixture)
    with app.app_context():
        count_fault("storeApiFailure")
        count_fault("storeApiFailure")
    count_fault("paymentLatencyMs", app)
    found = samples(app.test_client().get("/metrics").get_data(as_text=True), "faults_injected_total")
    assert value(found, flag="storeApiFailure") == 2
    assert value(found, flag="paymentLatencyMs") == 1


def test_registering_a_counter_again_gives_the_same_counter(orders_app: Flask) -> None:
    metrics = get_metrics(orders_app)
    again = metrics.counter("faults_injected_total", "Faults injected, by flag", ("flag",))
    again.labels("ordersUnavailable").inc()
    assert value(samples(metrics.exposition(), "faults_injected_total"), flag="ordersUnavailable") == 1
    with pytest.raises(ValueError, match="labels"):
        metrics.counter("faults_injected_total", "Faults injected", ("service",))


def test_a_refused_reservation_is_counted(store_app: Flask) -> None:
    album = create_album(store_app, stock=1)
    body = {"reservation_id": "metrics-refused", "items": [{"album_id": album, "quantity": 2}]}
    assert store_app.test_client().post("/api/stock/reserve", headers=SERVICE, json=body).status_code == 409
    assert value(samples(get_metrics(store_app).exposition(), "stock_reservations_refused_total")) == 1
