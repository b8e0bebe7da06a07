"""Stock reservations: all or nothing, never below zero, once per reservation id."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from musicstore.common.db import get_database
from tests.store.conftest import ADMIN, SERVICE, album_stock, create_album
from tests.support.sql import statements_run


def reserve(client: FlaskClient, reservation_id: str, *items: tuple[int, int]) -> tuple[int, dict]:
    response = client.post(
        "/api/stock/reserve",
        headers=SERVICE,
        json={"reservation_id": reservation_id, "items": [{"album_id": a, "quantity": q} for a, q in items]},
    )
    return response.status_code, response.get_json()


def test_reserving_takes_stock_for_every_line(app: Flask, client: FlaskClient) -> None:
    a, b = create_album(app, stock=5), create_album(app, stock=3)
    status, body = reserve(client, "r1", (a, 2), (b, 3))
    assert status == 200 and body["status"] == "reserved"
    assert album_stock(app, a) == 3 and album_stock(app, b) == 0


def test_a_line_beyond_the_stock_reserves_nothing_at_all(app: Flask, client: FlaskClient) -> None:
    a, b = create_album(app, stock=5), create_album(app, stock=1)
    status, body = reserve(client, "r1", (a, 2), (b, 2))
    assert status == 409
    assert body["unavailable"] == [{"album_id": b, "requested": 2, "available": 1}]
    assert album_stock(app, a) == 5 and album_stock(app, b) == 1


def test_an_unknown_album_is_unavailable_and_nothing_is_reserved(app: Flask, client: FlaskClient) -> None:
    a = create_album(app, stock=5)
    status, body = reserve(client, "r1", (a, 1), (999999, 1))
    assert status == 409 and body["unavailable"][0]["available"] == 0
    assert album_stock(app, a) == 5


def test_repeated_lines_of_one_album_are_added_up(app: Flask, client: FlaskClient) -> None:
    a = create_album(app, stock=3)
    assert reserve(client, "r1", (a, 2), (a, 2))[0] == 409
    assert reserve(client, "r2", (a, 1), (a, 2))[0] == 200
    assert album_stock(app, a) == 0


def test_repeating_a_reservation_id_reserves_once(app: Flask, client: FlaskClient) -> None:
    a = create_album(app, stock=5)
    first = reserve(client, "same", (a, 2))
    second = reserve(client, "same", (a, 2))
    assert first == second and first[0] == 200
    assert album_stock(app, a) == 3


def test_releasing_gives_the_stock_back_once(app: Flask, client: FlaskClient) -> None:
    a = create_album(app, stock=5)
    reserve(client, "r1", (a, 4))
    for _ in range(3):
        response = client.post("/api/stock/release", headers=SERVICE, json={"reservation_id": "r1"})
        assert response.status_code == 200 and response.get_json()["status"] == "released"
    assert album_stock(app, a) == 5


def test_a_released_id_cannot_reserve_again(app: Flask, client: FlaskClient) -> None:
    a = create_album(app, stock=5)
    client.post("/api/stock/release", headers=SERVICE, json={"reservation_id": "late"})
    status, body = reserve(client, "late", (a, 1))
    assert status == 409 and "released" in body["error"]
    assert album_stock(app, a) == 5


def test_releasing_after_the_album_was_deleted_still_succeeds(app: Flask, client: FlaskClient) -> None:
    a = create_album(app, stock=5)
    reserve(client, "r1", (a, 1))
    assert client.delete(f"/api/album/{a}", headers=ADMIN).status_code == 204
    assert client.post("/api/stock/release", headers=SERVICE, json={"reservation_id": "r1"}).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic Zm9vOmJhcg=="}])
def test_the_stock_api_refuses_anonymous_and_wrong_credentials(app: Flask, client: FlaskClient, headers: dict) -> None:
    a = create_album(app, stock=5)
    response = client.post(
        "/api/stock/reserve", headers=headers, json={"reservation_id": "x", "items": [{"album_id": a, "quantity": 1}]}
    )
    assert response.status_code == 401
    assert client.post("/api/stock/release", headers=headers, json={"reservation_id": "x"}).status_code == 401
    assert album_stock(app, a) == 5


def test_the_admin_may_call_the_stock_api_by_hand(app: Flask, client: FlaskClient) -> None:
    a = create_album(app, stock=5)
    response = client.post(
        "/api/stock/reserve", headers=ADMIN, json={"reservation_id": "op-1", "items": [{"album_id": a, "quantity": 1}]}
    )
    assert response.status_code == 200


BAD_BODIES = [
    {},
    {"reservation_id": "r", "items": []},
    {"reservation_id": "r", "items": [{"album_id": 1, "quantity": 0}]},
    {"reservation_id": "r", "items": [{"album_id": 1, "quantity": -1}]},
    {"reservation_id": "r", "items": [{"album_id": "1", "quantity": 1}]},
    {"reservation_id": "r", "items": [{"album_id": 1, "quantity": 1.5}]},
    {"reservation_id": "r", "items": [{"album_id": 1, "quantity": True}]},
    {"reservation_id": "r", "items": [{"album_id": 1, "quantity": 100000}]},
    {"reservation_id": "", "items": [{"album_id": 1, "quantity": 1}]},
    {"reservation_id": "x" * 65, "items": [{"album_id": 1, "quantity": 1}]},
    {"reservation_id": "a b/c", "items": [{"album_id": 1, "quantity": 1}]},
    {"reservation_id": 12, "items": [{"album_id": 1, "quantity": 1}]},
    {"reservation_id": "r", "items": "everything"},
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_a_malformed_reservation_is_a_422_and_changes_nothing(app: Flask, client: FlaskClient, body: dict) -> None:
    a = create_album(app, stock=5)
    response = client.post("/api/stock/reserve", headers=SERVICE, json=body)
    assert response.status_code == 422, response.get_json()
    assert album_stock(app, a) == 5


def test_many_threads_racing_for_the_last_copies_never_drive_stock_below_zero(app: Flask) -> None:
    album = create_album(app, stock=5)
    outcomes: Counter[int] = Counter()
    start = threading.Barrier(20)
    lock = threading.Lock()

    def buyer() -> None:
        client = app.test_client()
        start.wait(timeout=30)
        status, _ = reserve(client, uuid.uuid4().hex, (album, 1))
        with lock:
            outcomes[status] += 1

    threads = [threading.Thread(target=buyer) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert outcomes == Counter({200: 5, 409: 15})
    assert album_stock(app, album) == 0


def test_concurrent_requests_with_one_reservation_id_reserve_once(app: Flask) -> None:
    album = create_album(app, stock=10)
    statuses: list[int] = []
    start = threading.Barrier(10)

    def same_checkout() -> None:
        client = app.test_client()
        start.wait(timeout=30)
        statuses.append(reserve(client, "one-checkout", (album, 3))[0])

    threads = [threading.Thread(target=same_checkout) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert statuses == [200] * 10
    assert album_stock(app, album) == 7


def test_a_repeat_after_its_copies_were_the_last_answers_its_reservation_not_a_shortage(
    app: Flask, client: FlaskClient
) -> None:
    a, b = create_album(app, stock=2), create_album(app, stock=5)
    first = reserve(client, "r1", (a, 2), (b, 1))
    again = reserve(client, "r1", (a, 2), (b, 1))
    assert (first[0], again[0]) == (200, 200) and again[1]["items"] == first[1]["items"]
    assert (album_stock(app, a), album_stock(app, b)) == (0, 4)


def test_a_later_line_beyond_the_stock_gives_back_the_lines_taken_before_it(app: Flask, client: FlaskClient) -> None:
    a, b = create_album(app, stock=5), create_album(app, stock=1)
    assert reserve(client, "r1", (a, 2), (b, 2))[0] == 409
    assert (album_stock(app, a), album_stock(app, b)) == (5, 1)
    assert reserve(client, "r1", (a, 2), (b, 1))[0] == 200  # nothing of the refused one was kept, its id neither
    assert (album_stock(app, a), album_stock(app, b)) == (3, 0)


def test_a_reservation_id_reused_for_other_lines_is_a_422_and_changes_nothing(app: Flask, client: FlaskClient) -> None:
    a = create_album(app, stock=10)
    assert reserve(client, "r1", (a, 1))[0] == 200
    status, body = reserve(client, "r1", (a, 5))
    assert status == 422 and "other lines" in body["error"]
    assert album_stock(app, a) == 9


def test_a_new_reservation_takes_and_writes_each_line_in_one_statement_the_first_recording_it_too(
    app: Flask, client: FlaskClient
) -> None:
    a, b = create_album(app, stock=5), create_album(app, stock=5)
    with statements_run(get_database(app).engine) as statements:
        status, body = reserve(client, "checkout-1", (b, 1), (a, 2))
    assert status == 200 and body["items"] == [{"album_id": a, "quantity": 2}, {"album_id": b, "quantity": 1}]
    assert statements == ["WITH", "WITH"]  # the checkout waits on every round trip
    assert (album_stock(app, a), album_stock(app, b)) == (3, 4)


def test_a_new_reservation_runs_prebuilt_statements_without_the_orm(app: Flask, client: FlaskClient) -> None:
    """The ORM's work per statement (building, keying and compiling it, an object per album row) was most of the
    store's own time in a reservation; its statements are built once and run on the transaction's connection."""
    a = create_album(app, stock=5)
    through_the_orm: list[object] = []

    def _orm(state: object) -> None:
        through_the_orm.append(state)

    event.listen(Session, "do_orm_execute", _orm)
    try:
        status, body = reserve(client, "checkout-1", (a, 2))
    finally:
        event.remove(Session, "do_orm_execute", _orm)
    assert status == 200 and [album["stock"] for album in body["albums"]] == [3]
    assert through_the_orm == []
