"""The admin's restock: stock changed relative to what it is, atomically, never below zero."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

from musicstore.common.db import get_database
from musicstore.store import stock
from tests.store.conftest import ADMIN, SERVICE, album_stock, basic, create_album
from tests.store.test_stock import reserve


def restock(client: FlaskClient, album_id: int, body: Any, headers: dict[str, str] = ADMIN) -> tuple[int, Any]:
    response = client.post(f"/api/album/{album_id}/stock", headers=headers, json=body)
    return response.status_code, response.get_json()


def test_a_restock_adds_to_the_current_stock_and_answers_the_album(app: Flask, client: FlaskClient) -> None:
    album = create_album(app, title="Blue", price="9.50", stock=3)
    status, body = restock(client, album, {"delta": 7})
    assert status == 200
    assert body == client.get(f"/api/album/{album}").get_json()
    assert body["stock"] == 10 and body["title"] == "Blue" and body["price"] == "9.50"
    assert album_stock(app, album) == 10


def test_a_restock_counts_from_the_stock_as_it_is_now_not_as_it_was(app: Flask, client: FlaskClient) -> None:
    album = create_album(app, stock=5)
    assert reserve(client, "r1", (album, 2))[0] == 200
    assert restock(client, album, {"delta": 4})[1]["stock"] == 7
    assert restock(client, album, {"delta": 4})[1]["stock"] == 11


def test_a_negative_delta_within_the_stock_lowers_it(app: Flask, client: FlaskClient) -> None:
    album = create_album(app, stock=5)
    status, body = restock(client, album, {"delta": -5})
    assert status == 200 and body["stock"] == 0
    assert album_stock(app, album) == 0


def test_a_negative_delta_beyond_the_stock_is_a_409_and_changes_nothing(app: Flask, client: FlaskClient) -> None:
    album = create_album(app, stock=5)
    status, body = restock(client, album, {"delta": -6})
    assert status == 409 and "below zero" in body["error"] and body["stock"] == 5
    assert album_stock(app, album) == 5


def test_a_delta_of_zero_is_accepted_and_changes_nothing(app: Flask, client: FlaskClient) -> None:
    album = create_album(app, stock=5)
    assert restock(client, album, {"delta": 0}) == (200, client.get(f"/api/album/{album}").get_json())
    assert album_stock(app, album) == 5


def test_a_restock_beyond_the_largest_stock_is_a_409_and_changes_nothing(app: Flask, client: FlaskClient) -> None:
    album = create_album(app, stock=999_999)
    status, body = restock(client, album, {"delta": 2})
    assert status == 409 and body["error"]
    assert album_stock(app, album) == 999_999
    assert restock(client, album, {"delta": 1})[1]["stock"] == 1_000_000


@pytest.mark.parametrize(
    "headers", [{}, basic(password="wrong"), basic(user="root"), {"Authorization": "Bearer nope"}, SERVICE]
)
def test_a_restock_needs_the_admin_and_refuses_the_service_token(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    album = create_album(app, stock=5)
    status, body = restock(client, album, {"delta": 3}, headers=headers)
    assert status == 401 and body["error"]
    assert album_stock(app, album) == 5


@pytest.mark.parametrize("album_id", [999_999, 0, -1, 2**31, 10**30])
def test_restocking_an_unknown_album_is_a_json_404(client: FlaskClient, album_id: int) -> None:
    status, body = restock(client, album_id, {"delta": 3})
    assert status == 404 and body["error"]


BAD_DELTAS = [
    {},
    {"delta": None},
    {"delta": "3"},
    {"delta": "three"},
    {"delta": 1.5},
    {"delta": 3.0},
    {"delta": True},
    {"delta": False},
    {"delta": [3]},
    {"delta": {"n": 3}},
    {"delta": 1_000_001},
    {"delta": -1_000_001},
    {"delta": 10**30},
    {"delta": 3, "stock": 100},
    {"quantity": 3},
]


@pytest.mark.parametrize("body", BAD_DELTAS)
def test_a_malformed_delta_is_a_json_422_and_changes_nothing(app: Flask, client: FlaskClient, body: Any) -> None:
    album = create_album(app, stock=5)
    status, answer = restock(client, album, body)
    assert status == 422 and answer["error"]
    assert album_stock(app, album) == 5


@pytest.mark.parametrize("data", ["not json", "[1, 2]", "null", "3", "", "[" * 100_000 + "]" * 100_000])
def test_a_json_body_that_is_not_an_object_is_a_json_400(app: Flask, client: FlaskClient, data: str) -> None:
    album = create_album(app, stock=5)
    response = client.post(
        f"/api/album/{album}/stock", headers={**ADMIN, "Content-Type": "application/json"}, data=data
    )
    assert response.status_code == 400 and response.get_json()["error"]
    assert album_stock(app, album) == 5


@pytest.mark.parametrize(
    "content_type,data",
    [("application/x-www-form-urlencoded", "delta=3"), ("text/plain", '{"delta": 3}'), (None, None)],
)
def test_a_body_that_is_not_json_is_a_json_415(
    app: Flask, client: FlaskClient, content_type: str | None, data: str | None
) -> None:
    album = create_album(app, stock=5)
    headers = {**ADMIN, **({"Content-Type": content_type} if content_type else {})}
    response = client.post(f"/api/album/{album}/stock", headers=headers, data=data)
    assert response.status_code == 415 and response.get_json()["error"]
    assert album_stock(app, album) == 5


def test_a_restock_waits_for_a_reservation_in_flight_and_keeps_both(app: Flask) -> None:
    album = create_album(app, stock=10)
    answers: list[tuple[int, Any]] = []
    database = get_database(app)
    with database.sessionmaker() as session, session.begin():
        stock.reserve(session, "in-flight", [(album, 3)])
        restocker = threading.Thread(target=lambda: answers.append(restock(app.test_client(), album, {"delta": 5})))
        restocker.start()
        wait_until_a_query_waits_for_a_lock(app)
    restocker.join(timeout=30)
    assert answers and answers[0][0] == 200 and answers[0][1]["stock"] == 12
    assert album_stock(app, album) == 12


def test_restocks_racing_with_reservations_lose_no_update(app: Flask) -> None:
    album = create_album(app, stock=100)
    outcomes: Counter[tuple[str, int]] = Counter()
    start = threading.Barrier(30)
    lock = threading.Lock()

    def buyer() -> None:
        client = app.test_client()
        start.wait(timeout=30)
        status, _ = reserve(client, uuid.uuid4().hex, (album, 1))
        with lock:
            outcomes["reserve", status] += 1

    def admin(delta: int) -> None:
        client = app.test_client()
        start.wait(timeout=30)
        status, _ = restock(client, album, {"delta": delta})
        with lock:
            outcomes["restock", status] += 1

    threads = [threading.Thread(target=buyer) for _ in range(20)]
    threads += [threading.Thread(target=admin, args=(delta,)) for delta in (5, 5, 5, 5, 5, 5, -2, -2, -2, -2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert outcomes == Counter({("reserve", 200): 20, ("restock", 200): 10})
    assert album_stock(app, album) == 100 - 20 + 6 * 5 - 4 * 2


def wait_until_a_query_waits_for_a_lock(app: Flask) -> None:
    """Return once another connection is blocked on a row lock (at most 10 seconds)."""

    @retry(
        retry=retry_if_exception_type(AssertionError), stop=stop_after_delay(10), wait=wait_fixed(0.05), reraise=True
    )
    def _check() -> None:
        with get_database(app).engine.connect() as conn:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        assert waiting >= 1, "the restock never reached the row the reservation holds"

    _check()
