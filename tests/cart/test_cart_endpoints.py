"""The cart's endpoints through the test client, with a fake store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask.testing import FlaskClient

from musicstore.common.db import get_database
from tests.cart.conftest import CART_URL, STORE_URL, cart_json, cart_settings, csrf_token, make_app, quantities
from tests.cart.fakes import FakeOrders, FakeStore


def add(client: FlaskClient, album_id: Any, quantity: Any = 1) -> Any:
    response = client.post("/add_to_cart", json={"album_id": album_id, "quantity": quantity})
    response.close()
    return response


def test_adding_albums_prices_the_cart_from_the_store(client: FlaskClient) -> None:
    assert add(client, 1, 2).status_code == 200
    assert add(client, 2).status_code == 200
    body = cart_json(client)
    assert body["items"] == [
        {
            "album_id": 1,
            "title": "Blue Train",
            "artist": "Artist 1",
            "unit_price": "12.99",
            "quantity": 2,
            "line_total": "25.98",
            "cover_url": "http://store.test/covers/1.png",
            "stock": 5,
        },
        {
            "album_id": 2,
            "title": "Kind of Blue",
            "artist": "Artist 2",
            "unit_price": "9.50",
            "quantity": 1,
            "line_total": "9.50",
            "cover_url": "http://store.test/covers/2.png",
            "stock": 2,
        },
    ]
    assert (body["total"], body["count"]) == ("35.48", 3)


def test_adding_the_same_album_again_adds_to_its_line(client: FlaskClient) -> None:
    add(client, 1)
    add(client, 1, 2)
    assert quantities(client) == {1: 3}


def test_the_add_answer_carries_the_cart_and_its_id(client: FlaskClient) -> None:
    response = client.post("/add_to_cart", json={"album_id": 3})
    body = response.get_json()
    assert body["count"] == 1 and body["cart_id"] == response.headers["X-Cart-Id"]
    cookie = response.headers["Set-Cookie"]
    assert f"cart_id={body['cart_id']}" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_json_client_may_name_its_cart_with_the_header(app: Any) -> None:
    first, second = app.test_client(), app.test_client()
    cart_id = first.post("/add_to_cart", json={"album_id": 1}).get_json()["cart_id"]
    second.post("/add_to_cart", json={"album_id": 3}, headers={"X-Cart-Id": cart_id}).close()
    assert quantities(first) == {1: 1, 3: 1}
    assert second.get("/api/cart").get_json()["count"] == 0


def test_prices_come_from_the_store_not_the_client(client: FlaskClient, store: FakeStore) -> None:
    client.post("/add_to_cart", json={"album_id": 1, "quantity": 1, "price": "0.01", "unit_price": "0.01"}).close()
    store.add(1, title="Blue Train", price="14.00", stock=5)  # the store changed its price
    assert cart_json(client)["total"] == "14.00"


@pytest.mark.parametrize(
    ("quantity", "status"),
    [
        (0, 400),
        (-1, 400),
        (1.5, 400),
        ("abc", 400),
        (10000, 400),
        ("", 400),
        (None, 400),
        (True, 400),
        ("1.5", 400),
        (11, 400),
        (6, 409),
    ],
)
def test_a_bad_quantity_on_add_is_refused_and_the_cart_is_unchanged(
    client: FlaskClient, quantity: Any, status: int
) -> None:
    add(client, 1, 2)
    response = client.post("/add_to_cart", json={"album_id": 1, "quantity": quantity})
    assert response.status_code == status and "error" in response.get_json()
    assert quantities(client) == {1: 2}


@pytest.mark.parametrize(("album_id", "status"), [(999, 404), (0, 400), (-5, 400), ("x", 400), (None, 400)])
def test_an_unknown_or_malformed_album_is_refused_and_the_cart_is_unchanged(
    client: FlaskClient, album_id: Any, status: int
) -> None:
    add(client, 1)
    assert add(client, album_id).status_code == status
    assert quantities(client) == {1: 1}


def test_adding_more_than_the_stock_across_two_adds_is_refused(client: FlaskClient) -> None:
    add(client, 2, 2)
    response = add(client, 2, 1)
    assert response.status_code == 409 and quantities(client) == {2: 2}


def test_a_line_may_not_exceed_the_maximum_quantity(client: FlaskClient) -> None:
    add(client, 3, 10)
    assert add(client, 3, 1).status_code == 400
    assert quantities(client) == {3: 10}


def test_update_quantity_sets_the_line_and_zero_removes_it(client: FlaskClient) -> None:
    add(client, 1)
    add(client, 3)
    response = client.post("/update_quantity", json={"album_id": 1, "quantity": 4})
    assert response.status_code == 200 and response.get_json()["total"] == "66.96"
    client.post("/update_quantity", json={"album_id": 3, "quantity": 0}).close()
    assert quantities(client) == {1: 4}


@pytest.mark.parametrize("quantity", [-1, 1.5, "abc", 10000, 6, None])
def test_a_bad_quantity_on_update_is_refused_and_the_cart_is_unchanged(client: FlaskClient, quantity: Any) -> None:
    add(client, 1, 2)
    response = client.post("/update_quantity", json={"album_id": 1, "quantity": quantity})
    assert 400 <= response.status_code < 500
    assert quantities(client) == {1: 2}


def test_updating_an_album_that_is_not_in_the_cart_is_a_404(client: FlaskClient) -> None:
    add(client, 1)
    response = client.post("/update_quantity", json={"album_id": 3, "quantity": 2})
    assert response.status_code == 404 and quantities(client) == {1: 1}


def test_remove_item_takes_the_line_out(client: FlaskClient) -> None:
    add(client, 1)
    add(client, 2)
    response = client.post("/remove_item", json={"album_id": 1})
    assert response.status_code == 200 and [i["album_id"] for i in response.get_json()["items"]] == [2]


def test_albums_the_store_stopped_selling_leave_the_cart(client: FlaskClient, store: FakeStore) -> None:
    add(client, 1)
    add(client, 2)
    del store.albums[2]
    assert quantities(client) == {1: 1}


def test_a_store_that_is_down_is_a_clear_503_and_the_cart_is_kept(client: FlaskClient, store: FakeStore) -> None:
    add(client, 1)
    store.down = True
    response = client.get("/api/cart")
    assert response.status_code == 503 and "store" in response.get_json()["error"]
    assert add(client, 3).status_code == 503
    store.down = False
    assert quantities(client) == {1: 1}


def test_an_empty_cart_is_empty(client: FlaskClient) -> None:
    assert cart_json(client) == {"items": [], "total": "0.00", "count": 0, "cart_id": None}


# CSRF: the store's add-to-cart form posts here cross-site, without the cart's token.


def form_add(client: FlaskClient, headers: dict[str, str]) -> Any:
    response = client.post("/add_to_cart", data={"album_id": "1", "quantity": "1"}, headers=headers)
    response.close()
    return response


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": STORE_URL},
        {"Origin": CART_URL},
        {"Referer": f"{STORE_URL}/?q=blue&page=2"},
        {"Origin": "http://STORE.test:80"},
    ],
)
def test_a_form_post_from_the_store_or_the_cart_is_accepted_without_a_token(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    response = form_add(client, headers)
    assert response.status_code == 303 and response.headers["Location"].endswith("/cart")
    assert quantities(client) == {1: 1}


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Referer": "https://evil.example/store.test"},
        {},
        {"Origin": "null"},
        {"Origin": "http://store.test.evil.example"},
        {"Origin": "http://store.test:8080"},
        {"Origin": "https://evil.example", "Referer": f"{STORE_URL}/"},
    ],
)
def test_a_form_post_from_anywhere_else_without_a_token_is_refused(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    assert form_add(client, headers).status_code == 400
    assert quantities(client) == {}


def test_a_form_post_from_elsewhere_with_the_carts_token_is_accepted(client: FlaskClient) -> None:
    token = csrf_token(client)
    response = client.post("/add_to_cart", data={"album_id": "1", "csrf_token": token})
    assert response.status_code == 303 and quantities(client) == {1: 1}


def test_the_carts_own_forms_need_its_token(client: FlaskClient) -> None:
    add(client, 1, 2)
    refused = client.post("/update_quantity", data={"album_id": "1", "quantity": "3"}, headers={"Origin": CART_URL})
    assert refused.status_code == 400 and quantities(client) == {1: 2}
    token = csrf_token(client)
    accepted = client.post("/update_quantity", data={"album_id": "1", "quantity": "3", "csrf_token": token})
    assert accepted.status_code == 303 and quantities(client) == {1: 3}
    removed = client.post("/remove_item", data={"album_id": "1", "csrf_token": token})
    assert removed.status_code == 303 and quantities(client) == {}


@pytest.mark.parametrize("path", ["/no-such-path", "/cart/nothing-here", "/api/nothing"])
def test_a_form_post_to_an_unknown_path_is_a_404_not_a_csrf_error(client: FlaskClient, path: str) -> None:
    response = client.post(path, data={"album_id": "1"})
    assert response.status_code == 404


# Locally the shop is the same whether opened as localhost or 127.0.0.1: loopback names stand for each other.


@pytest.fixture()
def local_client(data_dir: Path, store: FakeStore, orders: FakeOrders) -> Iterator[FlaskClient]:
    """A visitor of a cart whose public URLs are the local defaults (http://localhost:5000 and :5002)."""
    settings = cart_settings(
        data_dir, STORE_PUBLIC_URL="http://localhost:5000", CART_PUBLIC_URL="http://localhost:5002"
    )
    app = make_app(settings, store, orders)
    yield app.test_client()
    get_database(app).dispose()


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://localhost:5000"},
        {"Origin": "http://127.0.0.1:5000"},
        {"Origin": "http://[::1]:5000"},
        {"Referer": "http://127.0.0.1:5000/?q=blue"},
        {"Origin": "http://127.0.0.1:5002"},
    ],
)
def test_a_form_post_from_a_loopback_alias_of_the_local_shop_is_accepted(
    local_client: FlaskClient, headers: dict[str, str]
) -> None:
    assert form_add(local_client, headers).status_code == 303
    assert quantities(local_client) == {1: 1}


@pytest.mark.parametrize(
    "origin",
    [
        "https://127.0.0.1:5000",  # another scheme
        "http://127.0.0.1:8080",  # another port
        "http://127.0.0.2:5000",  # not one of the loopback names
        "http://localhost.evil.example:5000",
        "http://192.168.1.10:5000",
    ],
)
def test_only_loopback_aliases_with_the_same_scheme_and_port_count_as_the_local_shop(
    local_client: FlaskClient, origin: str
) -> None:
    assert form_add(local_client, {"Origin": origin}).status_code == 400
    assert quantities(local_client) == {}


def test_a_loopback_host_stands_for_no_other_host_when_the_shop_has_a_real_name(client: FlaskClient) -> None:
    assert form_add(client, {"Origin": "http://127.0.0.1"}).status_code == 400  # the shop is http://store.test


def test_a_refused_shop_form_says_where_to_open_the_shop(local_client: FlaskClient) -> None:
    response = local_client.post("/add_to_cart", data={"album_id": "1"}, headers={"Origin": "http://shop.example:5000"})
    assert response.status_code == 400
    message = BeautifulSoup(response.get_data(as_text=True), "html.parser").select_one(".flash-error")
    assert message is not None
    assert "Open the shop at http://localhost:5000, or set STORE_PUBLIC_URL to the address you use." in message.text


# Requests the cart cannot read are refused clearly, not guessed at.


@pytest.mark.parametrize("cart_id", ["x", "a" * 65, "ä" * 20, "abcdefghijklmnop qrst", "abcdefgh/ijklmnopq"])
@pytest.mark.parametrize(("method", "path"), [("GET", "/api/cart"), ("POST", "/add_to_cart")])
def test_a_malformed_cart_header_is_a_400_and_makes_no_cart(
    client: FlaskClient, cart_id: str, method: str, path: str
) -> None:
    response = client.open(path, method=method, json={"album_id": 1}, headers={"X-Cart-Id": cart_id})
    assert response.status_code == 400
    assert "X-Cart-Id must be 16-64 letters" in response.get_json()["error"]
    assert "Set-Cookie" not in response.headers and "X-Cart-Id" not in response.headers


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/xml"])
@pytest.mark.parametrize("path", ["/add_to_cart", "/update_quantity", "/remove_item", "/process_payment"])
def test_a_body_that_is_neither_json_nor_a_form_is_a_415(
    client: FlaskClient, path: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(path, data=b'{"album_id": 1}', headers=headers)
    assert response.status_code == 415
    assert response.get_json() == {"error": "send the body as JSON (Content-Type: application/json) or as a form"}
    assert quantities(client) == {}
