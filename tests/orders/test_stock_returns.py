"""A cancelled order's stock goes back to the store exactly once, through an outbox that outlives a store outage."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from musicstore.common.db import get_database
from musicstore.common.embedded_pg import free_port
from musicstore.orders import create_app
from musicstore.orders.models import StockReturn
from musicstore.orders.return_worker import worker_of
from musicstore.orders.settings import OrderSettings
from tests.orders.conftest import ADMIN, SERVICE_TOKEN, login, order_body, post_order, soup
from tests.orders.stock_store import FakeStore, fake_store_on
from tests.support.waiting import eventually

FAST = {"STOCK_RETURN_FIRST_RETRY": 0.05, "STOCK_RETURN_MAX_RETRY": 0.2, "STOCK_RETURN_POLL": 0.5}


@pytest.fixture()
def store() -> Iterator[FakeStore]:
    """A fake store, up."""
    store = FakeStore()
    with fake_store_on(0, store) as url:
        store.url = url
        yield store


def orders_app(settings: OrderSettings, store_url: str, **overrides: Any) -> Flask:
    """The order app calling the store at store_url, retrying fast."""
    return create_app(settings.model_copy(update={"STORE_SERVICE_URL": store_url, **FAST, **overrides}), TESTING=True)


@pytest.fixture()
def apps(backend_settings: OrderSettings) -> Iterator[list[Flask]]:
    """Order apps a test makes; their workers are stopped and their databases closed after it."""
    made: list[Flask] = []
    yield made
    for app in made:
        worker_of(app).stop()
        get_database(app).dispose()


@pytest.fixture()
def app(apps: list[Flask], backend_settings: OrderSettings, store: FakeStore) -> Flask:
    """The order app with the fake store up."""
    apps.append(orders_app(backend_settings, store.url))
    return apps[-1]


def place(client: FlaskClient, reservation_id: str | None = "cart-r1") -> int:
    extra = {} if reservation_id is None else {"reservation_id": reservation_id}
    response = post_order(client, order_body(**extra))
    assert response.status_code == 201, response.get_json()
    order_id: int = response.get_json()["id"]
    return order_id


def move(client: FlaskClient, order_id: int, status: str) -> Any:
    response = client.put(f"/api/orders/{order_id}/status", json={"status": status}, headers=ADMIN)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def rows(app: Flask) -> list[StockReturn]:
    with get_database(app).sessionmaker() as session:
        return list(session.scalars(select(StockReturn).order_by(StockReturn.id)))


def done(app: Flask) -> list[str]:
    return [row.reservation_id for row in rows(app) if row.done_at is not None]


def test_cancelling_an_order_sends_its_reservation_back_to_the_store_once(app: Flask, store: FakeStore) -> None:
    client = app.test_client()
    order_id = place(client, "cart-r1")
    assert move(client, order_id, "cancelled")["status"] == "cancelled"
    eventually(lambda: assert_equal(done(app), ["cart-r1"]))
    assert worker_of(app).deliver_due() == 0  # nothing left to send, nothing sent again
    assert store.returns() == ["cart-r1"]
    call = store.calls[0]
    assert (call.method, call.path, call.body) == ("POST", "/api/stock/return", {"reservation_id": "cart-r1"})
    assert call.authorization == f"Bearer {SERVICE_TOKEN}" and call.user_agent == "musicstore-orders"
    [row] = rows(app)
    assert (row.order_id, row.attempts, row.last_error) == (order_id, 1, None)


def test_cancelling_from_a_confirmed_order_returns_the_stock_too(app: Flask, store: FakeStore) -> None:
    client = app.test_client()
    order_id = place(client, "cart-r2")
    move(client, order_id, "confirmed")
    move(client, order_id, "cancelled")
    move(client, order_id, "cancelled")  # asking again changes nothing
    eventually(lambda: assert_equal(done(app), ["cart-r2"]))
    assert store.returns() == ["cart-r2"]


def test_the_cancellation_answers_without_waiting_for_the_store(app: Flask, store: FakeStore) -> None:
    store.hold = threading.Event()
    try:
        client = app.test_client()
        order_id = place(client)
        assert move(client, order_id, "cancelled")["status"] == "cancelled"
        eventually(lambda: assert_equal(store.returns(), ["cart-r1"]))
        assert done(app) == []  # the store has not answered yet, and the cancellation was answered
    finally:
        store.hold.set()
    eventually(lambda: assert_equal(done(app), ["cart-r1"]))


def test_a_store_that_is_down_gets_the_return_once_it_is_back(
    apps: list[Flask], backend_settings: OrderSettings
) -> None:
    port = free_port()
    apps.append(orders_app(backend_settings, f"http://127.0.0.1:{port}"))
    app = apps[-1]
    client = app.test_client()
    order_id = place(client)
    assert move(client, order_id, "cancelled")["status"] == "cancelled"

    def retried_in_vain() -> None:
        [row] = rows(app)
        assert row.attempts >= 3 and row.done_at is None and row.last_error

    eventually(retried_in_vain)
    store = FakeStore()
    with fake_store_on(port, store):
        eventually(lambda: assert_equal(done(app), ["cart-r1"]))
    assert store.returns() == ["cart-r1"]


def test_a_failing_store_is_asked_again_until_it_takes_the_return(app: Flask, store: FakeStore) -> None:
    store.status = 503
    client = app.test_client()
    move(client, place(client), "cancelled")
    eventually(lambda: assert_true(len(store.returns()) >= 2))
    store.status = 200
    eventually(lambda: assert_equal(done(app), ["cart-r1"]))
    tries = len(store.returns())
    assert worker_of(app).deliver_due() == 0 and len(store.returns()) == tries
    assert rows(app)[0].attempts == tries


@pytest.mark.parametrize(("status", "note"), [(409, "released"), (404, "does not know")])
def test_a_reservation_the_store_cannot_return_ends_the_row_with_a_warning(
    app: Flask, store: FakeStore, caplog: pytest.LogCaptureFixture, status: int, note: str
) -> None:
    store.status = status
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="musicstore.orders.return_worker"):
        move(client, place(client), "cancelled")
        eventually(lambda: assert_equal(done(app), ["cart-r1"]))
    assert store.returns() == ["cart-r1"]
    assert note in (rows(app)[0].last_error or "")
    assert any(note in record.getMessage() for record in caplog.records)


def test_a_cancelled_order_without_a_reservation_records_nothing(app: Flask, store: FakeStore) -> None:
    client = app.test_client()
    move(client, place(client, reservation_id=None), "cancelled")
    assert rows(app) == []
    assert worker_of(app).deliver_due() == 0 and store.calls == []


def test_an_order_that_moves_on_without_being_cancelled_records_nothing(app: Flask, store: FakeStore) -> None:
    client = app.test_client()
    order_id = place(client)
    for status in ("confirmed", "shipped", "delivered"):
        move(client, order_id, status)
    assert rows(app) == []
    assert worker_of(app).deliver_due() == 0 and store.calls == []


def test_two_orders_naming_one_reservation_return_it_once(app: Flask, store: FakeStore) -> None:
    client = app.test_client()
    first, second = place(client, "shared"), place(client, "shared")
    move(client, first, "cancelled")
    move(client, second, "cancelled")
    eventually(lambda: assert_equal(done(app), ["shared"]))
    assert store.returns() == ["shared"]


def test_cancelling_on_the_dashboard_returns_the_stock_too(app: Flask, store: FakeStore) -> None:
    client = app.test_client()
    order_id = place(client)
    login(client)
    token = soup(client.get(f"/orders/{order_id}")).select_one("input[name=csrf_token]")["value"]  # type: ignore[index]
    response = client.post(f"/orders/{order_id}/status", data={"csrf_token": token, "status": "cancelled"})
    assert response.status_code == 302
    eventually(lambda: assert_equal(done(app), ["cart-r1"]))
    assert store.returns() == ["cart-r1"]


def test_returns_are_counted_by_outcome(app: Flask, store: FakeStore) -> None:
    client = app.test_client()
    move(client, place(client, "r-a"), "cancelled")
    eventually(lambda: assert_equal(done(app), ["r-a"]))
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'stock_return_deliveries_total{outcome="returned"} 1.0' in metrics


def test_replicas_sharing_the_outbox_send_each_return_once(
    apps: list[Flask], backend_settings: OrderSettings, store: FakeStore
) -> None:
    replicas = [orders_app(backend_settings, store.url, STOCK_RETURN_POLL=0.05) for _ in range(3)]
    apps.extend(replicas)
    for replica in replicas:
        worker_of(replica).start()
    client = replicas[0].test_client()
    reservations = [f"r-{i}" for i in range(12)]
    for reservation_id in reservations:
        move(client, place(client, reservation_id), "cancelled")
    eventually(lambda: assert_equal(sorted(done(replicas[0])), sorted(reservations)))
    assert sorted(store.returns()) == sorted(reservations)


def test_the_worker_waits_longer_after_each_failed_try_up_to_a_bound(app: Flask) -> None:
    worker = worker_of(app)
    worker.first_retry, worker.max_retry = 1.0, 30.0
    assert [worker.backoff(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]


def test_an_app_starts_its_worker_thread_at_the_first_cancellation_not_before(app: Flask, store: FakeStore) -> None:
    def workers() -> int:
        return sum(thread.name == "stock-returns" for thread in threading.enumerate())

    client = app.test_client()
    order_id = place(client)
    move(client, order_id, "confirmed")
    assert workers() == 0
    move(client, order_id, "cancelled")
    assert workers() == 1
    worker_of(app).stop()
    assert workers() == 0


def assert_equal(found: object, expected: object) -> None:
    assert found == expected


def assert_true(value: bool) -> None:
    assert value
