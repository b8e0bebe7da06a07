"""An order keeps the checkout's reservation id, and is found by the idempotency key that made it."""

from __future__ import annotations

import hashlib
import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from musicstore.orders.schemas import OrderIn
from tests.orders.conftest import SERVICE, count_orders, new_key, order_body, post_order, stored_order


def test_an_order_keeps_the_reservation_id_it_was_made_with(app: Flask, client: FlaskClient) -> None:
    response = post_order(client, order_body(reservation_id="cart-0123abc"))
    assert response.status_code == 201
    order = stored_order(app, response.get_json()["id"])
    assert order is not None and order.reservation_id == "cart-0123abc"


def test_an_order_without_a_reservation_id_has_none(app: Flask, client: FlaskClient) -> None:
    response = post_order(client, order_body())
    assert response.status_code == 201
    order = stored_order(app, response.get_json()["id"])
    assert order is not None and order.reservation_id is None


@pytest.mark.parametrize("reservation_id", ["", "x" * 65, "a b", "ünï", 12, "r\n"])
def test_a_malformed_reservation_id_is_a_422_and_makes_no_order(
    app: Flask, client: FlaskClient, reservation_id: object
) -> None:
    response = post_order(client, order_body(reservation_id=reservation_id))
    assert response.status_code == 422 and "reservation_id" in response.get_json()["error"]
    assert count_orders(app) == 0


def test_the_same_key_with_another_reservation_id_is_refused(app: Flask, client: FlaskClient) -> None:
    key = new_key()
    assert post_order(client, order_body(reservation_id="r-1"), key=key).status_code == 201
    assert post_order(client, order_body(reservation_id="r-2"), key=key).status_code == 422
    assert count_orders(app) == 1


def test_an_order_made_before_reservation_ids_existed_still_replays() -> None:
    body = order_body()
    data = OrderIn.model_validate(body)
    # The fingerprint orders were stored with before the field existed: the body's fields, no reservation_id.
    before = data.model_dump(mode="json", exclude={"reservation_id"})
    old_hash = hashlib.sha256(json.dumps(before, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert data.fingerprint() == old_hash
    assert OrderIn.model_validate({**body, "reservation_id": None}).fingerprint() == old_hash


def test_the_list_filtered_by_idempotency_key_holds_the_order_that_key_made(client: FlaskClient) -> None:
    key = new_key()
    post_order(client)
    made = post_order(client, order_body(customer_name="Grace Hopper"), key=key).get_json()
    post_order(client)
    response = client.get("/api/orders", query_string={"idempotency_key": key}, headers=SERVICE)
    assert response.status_code == 200
    assert response.get_json() == {"items": [made], "total": 1, "page": 1, "per_page": 20}


def test_the_list_filtered_by_an_unused_idempotency_key_is_empty(client: FlaskClient) -> None:
    post_order(client)
    response = client.get("/api/orders", query_string={"idempotency_key": "never-used"}, headers=SERVICE)
    assert response.status_code == 200
    assert response.get_json() == {"items": [], "total": 0, "page": 1, "per_page": 20}


@pytest.mark.parametrize("key", ["with space", "x" * 101, "tab\tkey", "ü"])
def test_a_malformed_idempotency_key_filter_is_a_400(client: FlaskClient, key: str) -> None:
    response = client.get("/api/orders", query_string={"idempotency_key": key}, headers=SERVICE)
    assert response.status_code == 400 and "idempotency_key" in response.get_json()["error"]


def test_the_idempotency_key_filter_combines_with_the_others(client: FlaskClient) -> None:
    key = new_key()
    post_order(client)
    made = post_order(client, key=key).get_json()

    def ids(**query: str) -> list[int]:
        found = client.get("/api/orders", query_string={"idempotency_key": key, **query}, headers=SERVICE)
        return [order["id"] for order in found.get_json()["items"]]

    assert ids(customer_email="ada@example.com") == [made["id"]]
    assert ids(customer_email="grace@example.com") == []
