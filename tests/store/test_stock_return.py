"""Returning a cancelled order's stock: once per reservation, never after a release, never twice."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.store.conftest import ADMIN, SERVICE, album_stock, create_album


def post(client: FlaskClient, path: str, reservation_id: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    response = client.post(
        f"/api/stock/{path}", headers=kwargs.get("headers", SERVICE), json={"reservation_id": reservation_id}
    )
    return response.status_code, response.get_json()


def reserve(client: FlaskClient, reservation_id: str, *items: tuple[int, int]) -> None:
    body = {"reservation_id": reservation_id, "items": [{"album_id": a, "quantity": q} for a, q in items]}
    assert client.post("/api/stock/reserve", headers=SERVICE, json=body).status_code == 200


def returned_total(client: FlaskClient) -> float:
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith("stock_returned_total "):
            return float(line.split()[1])
    raise AssertionError("no stock_returned_total on /metrics")


def test_returning_a_reservation_puts_its_stock_back_and_marks_it_returned(app: Flask, client: FlaskClient) -> None:
    a, b = create_album(app, stock=5), create_album(app, stock=4)
    reserve(client, "order-1", (a, 2), (b, 3))
    status, body = post(client, "return", "order-1")
    assert status == 200
    assert body == {
        "reservation_id": "order-1",
        "status": "returned",
        "items": [{"album_id": a, "quantity": 2}, {"album_id": b, "quantity": 3}],
    }
    assert (album_stock(app, a), album_stock(app, b)) == (5, 4)


def test_returning_again_changes_nothing(app: Flask, client: FlaskClient) -> None:
    a = create_album(app, stock=5)
    reserve(client, "order-1", (a, 2))
    answers = [post(client, "return", "order-1") for _ in range(3)]
    assert [status for status, _ in answers] == [200, 200, 200]
    assert answers[0] == answers[2]
    assert album_stock(app, a) == 5


def test_each_returned_reservation_is_counted_once(app: Flask, client: FlaskClient) -> None:
    a = create_album(app, stock=5)
    reserve(client, "order-1", (a, 1))
    reserve(client, "order-2", (a, 1))
    for reservation_id in ("order-1", "order-1", "order-2"):
        post(client, "return", reservation_id)
    assert returned_total(client) == 2


def test_a_released_reservation_cannot_be_returned(app: Flask, client: FlaskClient) -> None:
    a = create_album(app, stock=5)
    reserve(client, "failed-checkout", (a, 2))
    post(client, "release", "failed-checkout")
    status, body = post(client, "return", "failed-checkout")
    assert status == 409 and "released" in body["error"]
    assert album_stock(app, a) == 5


def test_an_unknown_reservation_cannot_be_returned(app: Flask, client: FlaskClient) -> None:
    status, body = post(client, "return", "never-made")
    assert status == 404 and "never-made" in body["error"]
    # Nothing is remembered: the id may still reserve.
    a = create_album(app, stock=5)
    reserve(client, "never-made", (a, 1))
    assert album_stock(app, a) == 4


def test_releasing_a_returned_reservation_adds_no_stock(app: Flask, client: FlaskClient) -> None:
    a = create_album(app, stock=5)
    reserve(client, "order-1", (a, 2))
    post(client, "return", "order-1")
    status, body = post(client, "release", "order-1")
    assert status == 409 and "returned" in body["error"]
    assert album_stock(app, a) == 5


def test_a_returned_id_cannot_reserve_again(app: Flask, client: FlaskClient) -> None:
    a = create_album(app, stock=5)
    reserve(client, "order-1", (a, 2))
    post(client, "return", "order-1")
    response = client.post(
        "/api/stock/reserve",
        headers=SERVICE,
        json={"reservation_id": "order-1", "items": [{"album_id": a, "quantity": 2}]},
    )
    assert response.status_code == 409 and "returned" in response.get_json()["error"]
    assert album_stock(app, a) == 5


def test_returning_after_the_album_was_deleted_still_succeeds(app: Flask, client: FlaskClient) -> None:
    a = create_album(app, stock=5)
    reserve(client, "order-1", (a, 2))
    assert client.delete(f"/api/album/{a}", headers=ADMIN).status_code == 204
    status, body = post(client, "return", "order-1")
    assert status == 200 and body["status"] == "returned"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_returning_takes_the_service_token(app: Flask, client: FlaskClient, headers: dict[str, str]) -> None:
    a = create_album(app, stock=5)
    reserve(client, "order-1", (a, 2))
    status, _ = post(client, "return", "order-1", headers=headers)
    assert status == 401
    assert album_stock(app, a) == 3


@pytest.mark.parametrize("reservation_id", ["", "x" * 65, "has space", "ünïcode"])
def test_a_malformed_reservation_id_is_refused(client: FlaskClient, reservation_id: str) -> None:
    status, body = post(client, "return", reservation_id)
    assert status == 422 and body["error"]


def test_concurrent_returns_and_releases_of_one_reservation_put_the_stock_back_once(app: Flask) -> None:
    a = create_album(app, stock=10)
    reserve(app.test_client(), "order-1", (a, 4))
    statuses: list[int] = []
    start = threading.Barrier(10)

    def give_back(path: str) -> None:
        client = app.test_client()
        start.wait(timeout=30)
        statuses.append(post(client, path, "order-1")[0])

    threads = [threading.Thread(target=give_back, args=("return" if i % 2 else "release",)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(statuses) == 10 and set(statuses) <= {200, 409}
    assert album_stock(app, a) == 10
