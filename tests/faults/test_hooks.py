"""Each flag's effect in its service (the apps from create_app, flags from DATA_DIR/flags.json): counted,
logged with the flag and the path, and marked on the answer with X-Fault-Injected."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import musicstore.orders
from musicstore.common import flags
from musicstore.common.db import get_database
from musicstore.common.faults import HEADER, init_faults
from musicstore.common.http import DownstreamError, ServiceClient
from musicstore.common.metrics import Metrics
from musicstore.orders.settings import OrderSettings
from musicstore.store import create_app as create_store
from tests.cart.conftest import VALID_CARD, cart_settings, make_app
from tests.cart.fakes import FakeOrders, FakeStore
from tests.orders.conftest import SERVICE, new_key, order_body
from tests.store.conftest import create_album, store_settings
from tests.support.servers import serving
from tests.support.waiting import eventually


def switch(data_dir: Path, **values: Any) -> None:
    """Set flags in the service's default flag file, DATA_DIR/flags.json."""
    for name, value in values.items():
        flags.set_value(data_dir / "flags.json", name, value)


def injected_count(client: FlaskClient, flag: str) -> float:
    """faults_injected_total{flag} as the service's /metrics has it."""
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(f'faults_injected_total{{flag="{flag}"}}'):
            return float(line.split()[-1])
    return 0.0


# The store -------------------------------------------------------------------------------------------------


@pytest.fixture()
def store_app(clean_store_db: str, data_dir: Path) -> Iterator[Flask]:
    """The store app on a clean catalog with one album."""
    app = create_store(store_settings(clean_store_db, data_dir), TESTING=True, WTF_CSRF_ENABLED=False)
    create_album(app, title="Blue Train")
    yield app
    get_database(app).dispose()


def test_with_every_flag_off_no_answer_is_marked(store_app: Flask, data_dir: Path) -> None:
    flags.ensure_file(data_dir / "flags.json")
    client = store_app.test_client()
    for path in ("/api/albums", "/", "/healthz", "/api/stats"):
        answer = client.get(path)
        assert answer.status_code == 200 and HEADER not in answer.headers, path


def test_store_api_failure_answers_that_share_of_the_api_with_a_503_in_json(
    store_app: Flask, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    switch(data_dir, storeApiFailure=1)
    client = store_app.test_client()
    answer = client.get("/api/albums")
    assert answer.status_code == 503 and answer.headers[HEADER] == "storeApiFailure"
    assert "injected fault: storeApiFailure" in answer.get_json()["error"]
    assert client.get("/").status_code == 200 and HEADER not in client.get("/").headers  # pages are not /api/*
    assert injected_count(client, "storeApiFailure") == 1
    assert any("storeApiFailure" in r.getMessage() and "/api/albums" in r.getMessage() for r in caplog.records)


def test_store_api_failure_of_a_share_fails_about_that_share(store_app: Flask, data_dir: Path) -> None:
    switch(data_dir, storeApiFailure=0.5)
    client = store_app.test_client()
    failed = sum(client.get("/api/stats").status_code == 503 for _ in range(200))
    assert 60 <= failed <= 140


def test_store_api_latency_answers_the_api_that_much_later_and_the_pages_at_once(
    store_app: Flask, data_dir: Path
) -> None:
    switch(data_dir, storeApiLatencyMs=300)
    client = store_app.test_client()
    started = time.perf_counter()
    answer = client.get("/api/albums")
    assert time.perf_counter() - started >= 0.3
    assert answer.status_code == 200 and answer.headers[HEADER] == "storeApiLatencyMs"
    started = time.perf_counter()
    assert client.get("/healthz").status_code == 200
    assert time.perf_counter() - started < 0.3


# The order service ----------------------------------------------------------------------------------------


@pytest.fixture()
def orders_app(data_dir: Path) -> Iterator[Flask]:
    """The order service on SQLite."""
    settings = OrderSettings(DATA_DIR=data_dir, SECRET_KEY="s", ADMIN_PASSWORD="a", SERVICE_TOKEN="test-service-token")
    musicstore.orders.prepare(settings)
    app = musicstore.orders.create_app(settings, TESTING=True)
    yield app
    get_database(app).dispose()


def test_orders_unavailable_answers_post_api_orders_with_a_503_in_json_and_makes_no_order(
    orders_app: Flask, data_dir: Path
) -> None:
    switch(data_dir, ordersUnavailable=True)
    client = orders_app.test_client()
    answer = client.post("/api/orders", json=order_body(), headers={**SERVICE, "Idempotency-Key": new_key()})
    assert answer.status_code == 503 and answer.headers[HEADER] == "ordersUnavailable"
    assert "injected fault: ordersUnavailable" in answer.get_json()["error"]
    listed = client.get("/api/orders", headers=SERVICE)
    assert listed.status_code == 200 and listed.get_json()["total"] == 0 and HEADER not in listed.headers
    assert client.post("/api/orders", json=order_body()).status_code == 401  # anonymous: refused before the fault
    assert injected_count(client, "ordersUnavailable") == 1


# The cart ---------------------------------------------------------------------------------------------------


@pytest.fixture()
def cart(data_dir: Path, store: FakeStore, orders: FakeOrders) -> Iterator[FlaskClient]:
    """A cart client whose cart holds one album."""
    app = make_app(cart_settings(data_dir), store, orders)
    client = app.test_client()
    assert client.post("/add_to_cart", json={"album_id": 1}).status_code in (200, 201)
    yield client
    get_database(app).dispose()


def pay(client: FlaskClient) -> Any:
    """Pay for the cart (JSON)."""
    return client.post("/process_payment", json={**VALID_CARD, "idempotency_key": str(uuid.uuid4())})


def test_payment_failure_declines_that_share_of_payments_with_a_402_and_keeps_the_cart(
    cart: FlaskClient,
    data_dir: Path,
    orders: FakeOrders,
    store: FakeStore,
) -> None:
    switch(data_dir, paymentFailure=1)
    answer = pay(cart)
    assert answer.status_code == 402 and answer.headers[HEADER] == "paymentFailure"
    assert "declined: injected fault" in answer.get_json()["error"]
    assert cart.get("/api/cart").get_json()["count"] == 1
    assert not orders.orders and store.stock(1) == 5  # no order, the reservation given back
    assert injected_count(cart, "paymentFailure") == 1


def test_payment_latency_makes_the_payment_that_much_slower_and_the_checkout_still_completes(
    cart: FlaskClient, data_dir: Path
) -> None:
    switch(data_dir, paymentLatencyMs=400)
    started = time.perf_counter()
    answer = pay(cart)
    assert time.perf_counter() - started >= 0.4
    assert answer.status_code == 201 and answer.headers[HEADER] == "paymentLatencyMs"


def test_the_checkouts_deadline_counts_the_injected_payment_latency(data_dir: Path) -> None:
    from musicstore.cart.checkout import Checkout
    from musicstore.cart.payment import InjectedFaults

    plain = Checkout(reconciler=None, latency_ms=500, timeout=10)  # type: ignore[arg-type]
    slowed = Checkout(reconciler=None, latency_ms=500, timeout=10, faults=InjectedFaults(latency_ms=20_000))  # type: ignore[arg-type]
    assert (slowed.stale_after - plain.stale_after).total_seconds() == 20


@pytest.mark.slow  # waits for the flag file's polling (a second or two): a fault test
def test_cart_not_ready_answers_readyz_with_a_503_while_healthz_stays_up(cart: FlaskClient, data_dir: Path) -> None:
    assert cart.get("/readyz").status_code == 200
    switch(data_dir, cartNotReady=True)  # the file appears after the first look: found within seconds

    def not_ready() -> None:
        answer = cart.get("/readyz")
        assert answer.status_code == 503 and answer.headers[HEADER] == "cartNotReady"

    eventually(not_ready, timeout=5)
    assert cart.get("/healthz").status_code == 200


# Passing a downstream's mark on ------------------------------------------------------------------------------


class _Marked(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header(HEADER, "storeApiFailure")
        self.end_headers()
        self.wfile.write(b'{"error": "the service is unavailable (injected fault: storeApiFailure)"}')

    def log_message(self, *args: Any) -> None:
        return


def test_an_answer_that_met_a_downstreams_injected_fault_carries_its_mark_without_counting_it(tmp_path: Path) -> None:
    app = Flask("caller")
    Metrics("caller").init_app(app)
    init_faults(app, tmp_path / "flags.json")

    with serving(HTTPServer(("127.0.0.1", 0), _Marked)) as url:

        @app.get("/page")
        def page() -> tuple[str, int]:
            try:
                ServiceClient(url, timeout=2, retries=0).get("/api/albums")
            except DownstreamError:
                return "the store is down", 503
            return "ok", 200

        client = app.test_client()
        answer = client.get("/page")
    assert answer.status_code == 503 and answer.headers[HEADER] == "storeApiFailure"
    assert injected_count(client, "storeApiFailure") == 0
    assert HEADER not in client.get("/metrics").headers
