"""A reservation answers the albums it holds as sold now, and is refused when their total is not the one the
shopper was shown: the checkout prices the cart with its reservation, in one call (#16)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from musicstore.common.db import get_database
from musicstore.store.models import Album
from tests.store.conftest import SERVICE, album_stock, create_album


def reserve(client: FlaskClient, reservation_id: str, *items: tuple[int, int], **extra: object) -> tuple[int, dict]:
    body = {"reservation_id": reservation_id, "items": [{"album_id": a, "quantity": q} for a, q in items], **extra}
    response = client.post("/api/stock/reserve", headers=SERVICE, json=body)
    return response.status_code, response.get_json()


def set_price(app: Flask, album_id: int, price: str) -> None:
    with app.app_context(), get_database(app).transaction() as session:
        session.execute(update(Album).where(Album.id == album_id).values(price=price))


def test_a_reservation_answers_its_albums_as_the_store_sells_them_now(app: Flask, client: FlaskClient) -> None:
    a = create_album(app, title="Blue Train", artist="John Coltrane", price="12.99", stock=5)
    b = create_album(app, title="Kind of Blue", price="9.50", stock=5)
    status, body = reserve(client, "checkout-1", (b, 1), (a, 2))
    assert status == 200
    found = {album["id"]: album for album in body["albums"]}
    assert (found[a]["title"], found[a]["artist"], found[a]["price"], found[a]["stock"]) == (
        "Blue Train",
        "John Coltrane",
        "12.99",
        3,
    )
    assert found[b]["price"] == "9.50"


def test_a_reservation_at_the_total_the_shopper_was_shown_is_made(app: Flask, client: FlaskClient) -> None:
    a, b = create_album(app, price="12.99"), create_album(app, price="9.50")
    status, _ = reserve(client, "checkout-1", (a, 2), (b, 1), expected_total="35.48")
    assert status == 200
    assert (album_stock(app, a), album_stock(app, b)) == (8, 9)


def test_a_reservation_whose_total_changed_is_a_409_with_the_total_now_and_reserves_nothing(
    app: Flask, client: FlaskClient
) -> None:
    a, b = create_album(app, price="12.99"), create_album(app, price="9.50")
    set_price(app, a, "14.99")
    status, body = reserve(client, "checkout-1", (a, 2), (b, 1), expected_total="35.48")
    assert status == 409 and body["total"] == "39.48" and "unavailable" not in body
    assert (album_stock(app, a), album_stock(app, b)) == (10, 10)
    assert reserve(client, "checkout-1", (a, 2), (b, 1), expected_total="39.48")[0] == 200  # the id was not used


def test_a_shortage_is_answered_before_the_total(app: Flask, client: FlaskClient) -> None:
    a = create_album(app, price="12.99", stock=1)
    status, body = reserve(client, "checkout-1", (a, 2), expected_total="1.00")
    assert status == 409 and body["unavailable"] == [{"album_id": a, "requested": 2, "available": 1}]


def test_a_repeat_is_checked_against_the_total_too_and_answers_the_albums_now(app: Flask, client: FlaskClient) -> None:
    a = create_album(app, price="12.99")
    assert reserve(client, "checkout-1", (a, 1), expected_total="12.99")[0] == 200
    set_price(app, a, "14.99")
    status, body = reserve(client, "checkout-1", (a, 1), expected_total="12.99")
    assert status == 409 and body["total"] == "14.99"  # the reservation stays held: the checkout releases it
    assert album_stock(app, a) == 9
    status, body = reserve(client, "checkout-1", (a, 1))
    assert status == 200 and body["albums"][0]["price"] == "14.99" and album_stock(app, a) == 9


@pytest.mark.parametrize("total", ["-1.00", "12.999", "abc", True, 1e30])
def test_an_expected_total_that_is_not_an_amount_is_a_422(app: Flask, client: FlaskClient, total: object) -> None:
    a = create_album(app)
    assert reserve(client, "checkout-1", (a, 1), expected_total=total)[0] == 422
    assert album_stock(app, a) == 10
