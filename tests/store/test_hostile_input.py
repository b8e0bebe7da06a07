"""Hostile input on the real PostgreSQL: control characters and ids beyond the integer range are 4xx."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.store.conftest import ADMIN, SERVICE, album_stock, create_album

HUGE = 2**31  # one past the largest id PostgreSQL's integer holds


@pytest.mark.parametrize("path", ["/api/albums?q=%00", "/api/albums?genre=a%00b", "/?q=x%00", "/?genre=%00"])
def test_a_nul_byte_in_a_search_is_a_400(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert "control characters" in response.get_data(as_text=True)


@pytest.mark.parametrize("field", ["title", "artist", "genre"])
def test_a_nul_byte_in_a_new_album_is_a_422_and_nothing_is_added(client: FlaskClient, field: str) -> None:
    body = {"title": "t", "artist": "a", "genre": "g", "year": 2000, "price": "1.00", "stock": 1, field: "bad\x00"}
    response = client.post("/api/albums", headers=ADMIN, json=body)
    assert response.status_code == 422
    assert client.get("/api/albums").get_json()["total"] == 0


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", f"/api/album/{HUGE}"),
        ("DELETE", f"/api/album/{HUGE}"),
        ("GET", "/api/album/0"),
        ("GET", f"/api/album/{10**30}"),
    ],
)
def test_ids_outside_the_integer_range_are_a_json_404(client: FlaskClient, method: str, path: str) -> None:
    response = client.open(path, method=method, headers=ADMIN)
    assert response.status_code == 404
    assert "error" in response.get_json()


def test_reserving_an_album_id_beyond_the_integer_range_is_a_422(app: Flask, client: FlaskClient) -> None:
    album = create_album(app, stock=3)
    response = client.post(
        "/api/stock/reserve",
        headers=SERVICE,
        json={
            "reservation_id": "big",
            "items": [{"album_id": album, "quantity": 1}, {"album_id": 10**20, "quantity": 1}],
        },
    )
    assert response.status_code == 422
    assert album_stock(app, album) == 3


def test_prices_are_shown_exactly_without_going_through_float(app: Flask, client: FlaskClient) -> None:
    create_album(app, title="Exact", price="0.29", stock=33)
    html = client.get("/").get_data(as_text=True)
    assert "$0.29" in html
    stats = client.get("/stats").get_data(as_text=True)
    assert "$9.57" in stats  # 0.29 x 33 copies
