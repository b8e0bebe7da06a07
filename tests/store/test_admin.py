"""The admin tab: log-in, adding with a cover, editing price and stock, deleting; CSRF enforced."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from musicstore.common.db import get_database
from musicstore.store import create_app
from tests.store.conftest import ADMIN_PASSWORD, album_stock, create_album, store_settings


@pytest.fixture()
def csrf_app(clean_store_db: str, data_dir: Path) -> Iterator[Flask]:
    """The store with CSRF protection on, as it runs for real."""
    app = create_app(store_settings(clean_store_db, data_dir), TESTING=True)
    yield app
    get_database(app).dispose()


def token_of(client: FlaskClient, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def log_in(client: FlaskClient, password: str = ADMIN_PASSWORD) -> int:
    token = token_of(client, "/login")
    return client.post("/login", data={"username": "admin", "password": password, "csrf_token": token}).status_code


def png(colour: tuple[int, int, int] = (0, 90, 200)) -> io.BytesIO:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buf, format="PNG")
    buf.seek(0)
    return buf


def album_form(token: str, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "csrf_token": token,
        "title": "Fresh",
        "artist": "Newcomer",
        "genre": "Pop",
        "year": "2024",
        "price": "12.50",
        "stock": "7",
    }
    data.update(overrides)
    return data


def test_admin_pages_send_anonymous_visitors_to_the_log_in(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    for path in ["/admin", "/admin/albums/1/delete"]:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post("/admin/albums", data={}).status_code in (302, 400)


def test_a_wrong_password_is_refused_and_the_admin_stays_out(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    assert log_in(client, "wrong") == 401
    assert client.get("/admin").status_code == 302


def test_the_admin_logs_in_adds_an_album_with_a_cover_and_sees_it_in_the_shop(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    assert log_in(client) == 302
    token = token_of(client, "/admin")
    response = client.post(
        "/admin/albums", data=album_form(token, cover=(png(), "c.png")), content_type="multipart/form-data"
    )
    assert response.status_code == 302
    shop = BeautifulSoup(client.get("/").get_data(as_text=True), "html.parser")
    titles = [t.text for t in shop.select(".title")]
    assert titles == ["Fresh"]
    assert len(list(csrf_app.config["SETTINGS"].covers_dir.glob("*.png"))) == 1


def test_a_form_without_its_csrf_token_is_refused(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    log_in(client)
    response = client.post("/admin/albums", data=album_form("forged"))
    assert response.status_code == 400
    assert client.get("/api/albums").get_json()["total"] == 0


def test_log_in_itself_needs_the_csrf_token(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    response = client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin").status_code == 302


def test_a_text_file_uploaded_as_a_cover_is_refused_with_the_reason(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    log_in(client)
    token = token_of(client, "/admin")
    response = client.post(
        "/admin/albums",
        data=album_form(token, cover=(io.BytesIO(b"hello"), "x.png")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "not a readable image" in response.get_data(as_text=True)
    assert client.get("/api/albums").get_json()["total"] == 0


@pytest.mark.parametrize(
    "field,value",
    [("price", "abc"), ("price", "-1"), ("year", "1492"), ("stock", "-3"), ("title", ""), ("stock", "1.5")],
)
def test_an_invalid_album_form_is_refused_with_the_field_marked(csrf_app: Flask, field: str, value: str) -> None:
    client = csrf_app.test_client()
    log_in(client)
    response = client.post("/admin/albums", data=album_form(token_of(client, "/admin"), **{field: value}))
    assert response.status_code == 422
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert soup.select(".field-error")
    assert client.get("/api/albums").get_json()["total"] == 0


def test_the_admin_changes_price_and_stock(csrf_app: Flask) -> None:
    album_id = create_album(csrf_app, price="10.00", stock=1)
    client = csrf_app.test_client()
    log_in(client)
    token = token_of(client, "/admin")
    response = client.post(
        f"/admin/albums/{album_id}", data={"csrf_token": token, "price": "8.25", "stock": "40", "shown_stock": "1"}
    )
    assert response.status_code == 302
    body = client.get(f"/api/album/{album_id}").get_json()
    assert body["price"] == "8.25" and body["stock"] == 40


def test_a_bad_price_leaves_the_album_unchanged(csrf_app: Flask) -> None:
    album_id = create_album(csrf_app, price="10.00", stock=1)
    client = csrf_app.test_client()
    log_in(client)
    token = token_of(client, "/admin")
    response = client.post(f"/admin/albums/{album_id}", data={"csrf_token": token, "price": "free", "stock": "2"})
    assert response.status_code == 422
    assert client.get(f"/api/album/{album_id}").get_json()["price"] == "10.00"


def test_deleting_asks_for_confirmation_first(csrf_app: Flask) -> None:
    album_id = create_album(csrf_app, title="Doomed")
    client = csrf_app.test_client()
    log_in(client)
    confirm = BeautifulSoup(client.get(f"/admin/albums/{album_id}/delete").get_data(as_text=True), "html.parser")
    assert "Doomed" in confirm.select_one("section").text
    assert album_stock(csrf_app, album_id) is not None
    token = confirm.select_one("input[name=csrf_token]")["value"]
    assert client.post(f"/admin/albums/{album_id}/delete", data={"csrf_token": token}).status_code == 302
    assert album_stock(csrf_app, album_id) is None


def test_editing_or_deleting_an_unknown_album_is_a_404(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    log_in(client)
    token = token_of(client, "/admin")
    assert (
        client.post("/admin/albums/424242", data={"csrf_token": token, "price": "1", "stock": "1"}).status_code == 404
    )
    assert client.get("/admin/albums/424242/delete").status_code == 404


def test_log_out_ends_the_admin_session(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    log_in(client)
    token = token_of(client, "/admin")
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/admin").status_code == 302


def test_log_in_never_redirects_to_another_site(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    token = token_of(client, "/login")
    response = client.post(
        "/login?next=https://evil.example/", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token}
    )
    assert response.headers["Location"] == "/admin"


def test_log_in_attempts_are_rate_limited_per_address(clean_store_db: str, data_dir: Path) -> None:
    app = create_app(
        store_settings(clean_store_db, data_dir), TESTING=True, WTF_CSRF_ENABLED=False, LOGIN_RATE_LIMIT="3 per minute"
    )
    client = app.test_client()
    statuses = [client.post("/login", data={"username": "admin", "password": "guess"}).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    last = client.post("/login", data={"username": "admin", "password": "guess"})
    assert int(last.headers["Retry-After"]) == 60
    assert "Please wait 60 seconds" in last.get_data(as_text=True)
    get_database(app).dispose()


def test_the_store_session_cookie_has_its_own_name_so_services_on_one_host_do_not_share_it(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    log_in(client)
    cookie = client.get_cookie("store_session")
    assert cookie is not None and cookie.http_only
    assert client.get_cookie("session") is None


def many_albums(app: Flask, count: int = 30) -> list[int]:
    return [create_album(app, title=f"Album {i:02d}") for i in range(count)]


@pytest.mark.parametrize("price,stock", [("abc", "1"), ("99999", "1"), ("1", "-1"), ("", "")])
def test_a_bad_price_or_stock_with_a_long_catalog_is_a_422_page_not_a_crash(
    csrf_app: Flask, price: str, stock: str
) -> None:
    album_id = many_albums(csrf_app)[0]
    client = csrf_app.test_client()
    log_in(client)
    token = token_of(client, "/admin")
    response = client.post(f"/admin/albums/{album_id}", data={"csrf_token": token, "price": price, "stock": stock})
    assert response.status_code == 422
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    message = soup.select_one(".flash-error").text
    assert "was not changed" in message and ".." not in message
    assert soup.select_one("a[rel=next]")["href"].startswith("/admin?")


def test_a_failed_add_keeps_the_paging_links_on_the_admin_page(csrf_app: Flask) -> None:
    many_albums(csrf_app)
    client = csrf_app.test_client()
    log_in(client)
    response = client.post("/admin/albums", data=album_form(token_of(client, "/admin"), price="x"))
    assert response.status_code == 422
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert soup.select_one("a[rel=next]")["href"] == "/admin?page=2&q="


def test_a_price_typed_with_a_decimal_comma_is_understood(csrf_app: Flask) -> None:
    album_id = create_album(csrf_app, price="10.00")
    client = csrf_app.test_client()
    log_in(client)
    token = token_of(client, "/admin")
    response = client.post(
        f"/admin/albums/{album_id}", data={"csrf_token": token, "price": "12,99", "stock": "4", "shown_stock": "10"}
    )
    assert response.status_code == 302
    assert client.get(f"/api/album/{album_id}").get_json()["price"] == "12.99"


def test_a_year_that_is_not_a_number_says_so(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    log_in(client)
    response = client.post("/admin/albums", data=album_form(token_of(client, "/admin"), year="abc"))
    assert response.status_code == 422
    assert "Not a valid integer value" in response.get_data(as_text=True)


def test_a_genre_typed_in_another_case_joins_the_existing_genre(csrf_app: Flask) -> None:
    create_album(csrf_app, genre="Jazz")
    client = csrf_app.test_client()
    log_in(client)
    client.post("/admin/albums", data=album_form(token_of(client, "/admin"), genre="jAZZ"))
    assert client.get("/api/stats").get_json()["albums_per_genre"] == [{"genre": "Jazz", "albums": 2}]
