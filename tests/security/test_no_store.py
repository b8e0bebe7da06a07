"""Pages that show customer data are never kept by a browser's or a proxy's cache: Cache-Control: no-store."""

from __future__ import annotations

import uuid

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.http import parse_cache_control_header
from werkzeug.test import TestResponse

from tests.cart.conftest import VALID_CARD
from tests.orders.conftest import insert_order, stored_order
from tests.security.conftest import log_in


def no_store(response: TestResponse) -> bool:
    return bool(parse_cache_control_header(response.headers.get("Cache-Control")).no_store)


def html_answer(client: FlaskClient, path: str) -> TestResponse:
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/html", (path, response.status_code)
    return response


def test_every_page_of_the_order_service_is_no_store(orders_app: Flask) -> None:
    order_id = insert_order(orders_app)
    order = stored_order(orders_app, order_id)
    assert order is not None
    client = orders_app.test_client()
    assert no_store(html_answer(client, f"/track/{order.tracking_token}"))
    assert no_store(html_answer(client, "/login"))
    log_in(client)
    for path in ["/", f"/orders/{order_id}"]:
        assert no_store(html_answer(client, path)), path


def test_the_cart_checkout_and_confirmation_pages_are_no_store(cart_app: Flask) -> None:
    client = cart_app.test_client()
    client.post("/add_to_cart", json={"album_id": 1, "quantity": 1}).close()
    assert no_store(html_answer(client, "/cart"))
    assert no_store(html_answer(client, "/checkout"))
    key = str(uuid.uuid4())
    assert client.post("/process_payment", json={**VALID_CARD, "idempotency_key": key}).status_code == 201
    assert no_store(html_answer(client, f"/confirmation/{key}"))


def test_the_store_admin_pages_are_no_store_and_the_public_shop_stays_cacheable(store_app: Flask) -> None:
    client = store_app.test_client()
    assert not no_store(html_answer(client, "/"))
    log_in(client)
    assert no_store(html_answer(client, "/admin"))


def test_static_files_stay_cacheable(orders_app: Flask) -> None:
    response = orders_app.test_client().get("/static/common/app.css")
    response.close()
    assert response.status_code == 200 and not no_store(response)
