"""The store's album API."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from tests.store.conftest import ADMIN, SERVICE, album_stock, basic, create_album


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


def test_album_details_have_the_contract_fields_and_price_as_string(app: Flask, client: FlaskClient) -> None:
    album_id = create_album(app, title="Blue", price="9.50", stock=3, cover=True)
    body = client.get(f"/api/album/{album_id}").get_json()
    assert body["id"] == album_id
    assert body["price"] == "9.50"
    assert body["stock"] == 3
    assert set(body) == {"id", "title", "artist", "genre", "year", "price", "stock", "cover_url"}
    assert body["cover_url"].startswith("http://store.test/covers/")


@pytest.mark.parametrize("path", ["/api/album/999999", "/api/album/-1", "/api/album/abc", "/api/album/1.5"])
def test_unknown_or_malformed_album_ids_are_a_json_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "error" in response.get_json()


def test_album_list_searches_filters_and_pages(app: Flask, client: FlaskClient) -> None:
    for i in range(25):
        create_album(app, title=f"Song {i:02d}", genre="Jazz" if i % 2 else "Rock")
    create_album(app, title="Unique 100% Title", artist="Somebody")
    body = client.get("/api/albums?per_page=10&page=2").get_json()
    assert body["total"] == 26 and body["page"] == 2 and body["per_page"] == 10 and len(body["items"]) == 10
    assert client.get("/api/albums?genre=Jazz").get_json()["total"] == 12
    assert client.get("/api/albums?q=100%25").get_json()["total"] == 1
    assert client.get("/api/albums?q=somebody").get_json()["items"][0]["title"] == "Unique 100% Title"
    assert client.get("/api/albums?per_page=5000").get_json()["per_page"] == 100


@pytest.mark.parametrize("query", ["page=0", "page=abc", "per_page=0", "per_page=-3", "page=1e3"])
def test_bad_paging_is_a_400(client: FlaskClient, query: str) -> None:
    response = client.get(f"/api/albums?{query}")
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_stats_count_albums_artists_genres_and_value(app: Flask, client: FlaskClient) -> None:
    create_album(app, artist="A", genre="Rock", price="10.00", stock=2)
    create_album(app, artist="A", genre="Jazz", price="20.00", stock=1)
    create_album(app, artist="B", genre="Jazz", price="30.00", stock=0)
    body = client.get("/api/stats").get_json()
    assert body["albums"] == 3 and body["artists"] == 2 and body["genres"] == 2
    assert body["average_price"] == "20.00"
    assert body["inventory_value"] == "40.00"
    assert body["albums_per_genre"][0] == {"genre": "Jazz", "albums": 2}


def test_admin_adds_an_album_as_json_with_a_generated_cover(client: FlaskClient) -> None:
    response = client.post(
        "/api/albums",
        headers=ADMIN,
        json={"title": "New", "artist": "Band", "genre": "Pop", "year": 2024, "price": "11.00", "stock": 4},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["price"] == "11.00" and body["cover_url"]
    with client.get(body["cover_url"].replace("http://store.test", "")) as cover:
        assert cover.status_code == 200 and cover.mimetype == "image/png"
    assert client.get(f"/api/album/{body['id']}").status_code == 200


def test_admin_adds_an_album_as_multipart_with_an_uploaded_cover(client: FlaskClient) -> None:
    data = {
        "title": "Up",
        "artist": "Loader",
        "genre": "Pop",
        "year": "2020",
        "price": "5",
        "stock": "1",
        "cover": (io.BytesIO(png_bytes()), "cover.png"),
    }
    response = client.post("/api/albums", headers=ADMIN, data=data, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["price"] == "5.00"


@pytest.mark.parametrize(
    "headers", [{}, basic(password="wrong"), basic(user="root"), SERVICE, {"Authorization": "Bearer nope"}]
)
def test_adding_and_deleting_albums_needs_the_admin(app: Flask, client: FlaskClient, headers: dict) -> None:
    album_id = create_album(app)
    add = client.post(
        "/api/albums",
        headers=headers,
        json={"title": "X", "artist": "Y", "genre": "Z", "year": 2000, "price": "1.00", "stock": 1},
    )
    assert add.status_code == 401
    assert client.delete(f"/api/album/{album_id}", headers=headers).status_code == 401
    assert client.get("/api/albums").get_json()["total"] == 1


BAD_ALBUMS = [
    {"title": "", "artist": "a", "genre": "g", "year": 2000, "price": "1.00"},
    {"title": "t", "artist": "a", "genre": "g", "year": "nineteen", "price": "1.00"},
    {"title": "t", "artist": "a", "genre": "g", "year": 2000, "price": "-1"},
    {"title": "t", "artist": "a", "genre": "g", "year": 2000, "price": "1.234"},
    {"title": "t", "artist": "a", "genre": "g", "year": 2000, "price": "NaN"},
    {"title": "t", "artist": "a", "genre": "g", "year": 2000, "price": True},
    {"title": "t", "artist": "a", "genre": "g", "year": 2000, "price": "1", "stock": -5},
    {"title": "t", "artist": "a", "genre": "g", "year": 3000, "price": "1"},
    {"title": ["t"], "artist": "a", "genre": "g", "year": 2000, "price": "1"},
    {"title": "t" * 201, "artist": "a", "genre": "g", "year": 2000, "price": "1"},
    {"title": "t", "artist": "a", "genre": "g", "year": 2000, "price": "1", "admin": True},
    {"artist": "a", "genre": "g", "year": 2000, "price": "1"},
]


@pytest.mark.parametrize("body", BAD_ALBUMS)
def test_an_invalid_album_is_a_422_and_nothing_is_added(client: FlaskClient, body: dict) -> None:
    response = client.post("/api/albums", headers=ADMIN, json=body)
    assert response.status_code == 422
    assert response.get_json()["error"]
    assert client.get("/api/albums").get_json()["total"] == 0


@pytest.mark.parametrize("data", ["not json", "[1, 2]", "null", ""])
def test_a_body_that_is_not_a_json_object_is_a_400(client: FlaskClient, data: str) -> None:
    response = client.post("/api/albums", headers={**ADMIN, "Content-Type": "application/json"}, data=data)
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_a_text_file_as_cover_is_refused_and_nothing_is_added(app: Flask, client: FlaskClient) -> None:
    data = {
        "title": "T",
        "artist": "A",
        "genre": "G",
        "year": "2000",
        "price": "1",
        "cover": (io.BytesIO(b"just some text, honest"), "cover.png"),
    }
    response = client.post("/api/albums", headers=ADMIN, data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "image" in response.get_json()["error"]
    assert client.get("/api/albums").get_json()["total"] == 0
    assert list((app.config["SETTINGS"].covers_dir).glob("*")) == []


def test_a_cover_over_the_size_limit_is_refused(app: Flask, client: FlaskClient) -> None:
    app.config["SETTINGS"].MAX_COVER_BYTES = 1024
    big = io.BytesIO()
    Image.effect_noise((200, 200), 100).save(big, format="PNG")
    data = {
        "title": "T",
        "artist": "A",
        "genre": "G",
        "year": "2000",
        "price": "1",
        "cover": (io.BytesIO(big.getvalue()), "big.png"),
    }
    response = client.post("/api/albums", headers=ADMIN, data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "larger" in response.get_json()["error"]


def test_admin_deletes_an_album(app: Flask, client: FlaskClient) -> None:
    album_id = create_album(app)
    assert client.delete(f"/api/album/{album_id}", headers=ADMIN).status_code == 204
    assert client.get(f"/api/album/{album_id}").status_code == 404
    assert client.delete(f"/api/album/{album_id}", headers=ADMIN).status_code == 404
    assert album_stock(app, album_id) is None


def test_a_wrong_method_is_a_json_405(client: FlaskClient) -> None:
    response = client.put("/api/albums", json={})
    assert response.status_code == 405
    assert "error" in response.get_json()


def test_a_body_nested_too_deeply_is_a_400_not_a_crash(client: FlaskClient) -> None:
    response = client.post(
        "/api/albums", headers={**ADMIN, "Content-Type": "application/json"}, data="[" * 100_000 + "]" * 100_000
    )
    assert response.status_code == 400
    assert "nested" in response.get_json()["error"]


def test_albums_by_ids_come_in_one_call_in_the_order_asked_and_unknown_ids_are_left_out(
    app: Flask, client: FlaskClient
) -> None:
    first, second, third = (create_album(app, title=f"By id {n}") for n in range(3))
    body = client.get(f"/api/albums?ids={third},999999,{first}").get_json()
    assert [item["id"] for item in body["items"]] == [third, first]
    assert body["total"] == 2 and body["page"] == 1
    assert body["items"][0] == client.get(f"/api/album/{third}").get_json()  # the same JSON as one by one
    assert second not in [item["id"] for item in body["items"]]


@pytest.mark.parametrize("ids", ["", "a", "1,,2", "1,-2", "0", "1.5", ",".join(str(n) for n in range(1, 102))])
def test_malformed_or_too_many_ids_are_a_400_that_says_why(client: FlaskClient, ids: str) -> None:
    response = client.get(f"/api/albums?ids={ids}")
    assert response.status_code == 400 and "ids" in response.get_json()["error"]
