"""Every malformed order is a 4xx JSON error and stores nothing; never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.orders.conftest import ADMIN, SERVICE, count_orders, line, new_key, order_body

HUGE = "x" * 100_000

BAD_BODIES: dict[str, Any] = {
    "empty object": {},
    "list instead of object": [order_body()],
    "string instead of object": "order",
    "null": None,
    "no lines": order_body(items=[]),
    "lines not a list": order_body(items={"album_id": 1}),
    "line not an object": order_body(items=[1, 2]),
    "zero quantity": order_body(items=[line(quantity=0)]),
    "negative quantity": order_body(items=[line(quantity=-2)]),
    "huge quantity": order_body(items=[line(quantity=10**12)]),
    "fractional quantity": order_body(items=[line(quantity=1.5)]),  # type: ignore[arg-type]
    "quantity as text": order_body(items=[line(quantity="2")]),  # type: ignore[arg-type]
    "quantity true": order_body(items=[line(quantity=True)]),
    "negative price": order_body(items=[line(unit_price="-1.00")]),
    "price with three decimals": order_body(items=[line(unit_price="1.999")]),
    "huge price": order_body(items=[line(unit_price="1e30")]),
    "price not a number": order_body(items=[line(unit_price="cheap")]),
    "price NaN": order_body(items=[line(unit_price="NaN")]),
    "price Infinity": order_body(items=[line(unit_price="Infinity")]),
    "price true": order_body(items=[line(unit_price=True)]),  # type: ignore[arg-type]
    "album id zero": order_body(items=[line(album_id=0)]),
    "album id as text": order_body(items=[{**line(), "album_id": "1"}]),
    "album id too big": order_body(items=[line(album_id=2**40)]),
    "same album twice": order_body(items=[line(1), line(1)]),
    "too many lines": order_body(items=[line(i) for i in range(1, 102)]),
    "missing title": order_body(items=[{k: v for k, v in line().items() if k != "title"}]),
    "huge title": order_body(items=[line(title=HUGE)]),
    "blank name": order_body(customer_name="   "),
    "huge name": order_body(customer_name=HUGE),
    "name with a NUL byte": order_body(customer_name="Ada\x00Lovelace"),
    "name not a string": order_body(customer_name=42),  # type: ignore[arg-type]
    "missing email": {k: v for k, v in order_body().items() if k != "customer_email"},
    "email without at": order_body(customer_email="ada.example.com"),
    "email without domain dot": order_body(customer_email="ada@localhost"),
    "email with spaces": order_body(customer_email="ada lovelace@example.com"),
    "huge email": order_body(customer_email=f"{HUGE}@example.com"),
    "card last4 too short": order_body(card_last4="42"),
    "card brand empty": order_body(card_brand=""),
    "card brand huge": order_body(card_brand=HUGE),
    "card brand with markup": order_body(card_brand="<script>"),
    "unknown field": order_body(coupon="FREE"),
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_malformed_order_is_a_4xx_json_error_and_stores_nothing(app: Flask, client: FlaskClient, body: Any) -> None:
    response = client.post("/api/orders", json=body, headers={**SERVICE, "Idempotency-Key": new_key()})
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert isinstance(response.get_json()["error"], str)
    assert count_orders(app) == 0


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{not json", "application/json"),
        ("", "application/json"),
        ("customer_name=Ada", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00garbage", "application/json"),
        ("[" * 5000 + "]" * 5000, "application/json"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_4xx_and_stores_nothing(
    app: Flask, client: FlaskClient, data: str | bytes, content_type: str
) -> None:
    response = client.post(
        "/api/orders", data=data, content_type=content_type, headers={**SERVICE, "Idempotency-Key": new_key()}
    )
    assert 400 <= response.status_code < 500
    assert "error" in response.get_json()
    assert count_orders(app) == 0


@pytest.mark.parametrize("key", [None, "", "   ", "k" * 101, "key with spaces", "ключ"])
def test_a_missing_or_malformed_idempotency_key_is_a_400(app: Flask, client: FlaskClient, key: str | None) -> None:
    headers = dict(SERVICE) if key is None else {**SERVICE, "Idempotency-Key": key}
    response = client.post("/api/orders", json=order_body(), headers=headers)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.get_json()["error"]
    assert count_orders(app) == 0


def test_a_body_larger_than_the_limit_is_a_413(app: Flask, client: FlaskClient) -> None:
    response = client.post(
        "/api/orders",
        data="x" * (9 * 1024 * 1024),
        content_type="application/json",
        headers={**SERVICE, "Idempotency-Key": new_key()},
    )
    assert response.status_code == 413 and "error" in response.get_json()


@pytest.mark.parametrize("body", ["{bad", "[]", '{"status": null}'])
def test_a_malformed_status_change_is_a_4xx(client: FlaskClient, body: str) -> None:
    order_id = client.post(
        "/api/orders", json=order_body(), headers={**SERVICE, "Idempotency-Key": new_key()}
    ).get_json()["id"]
    response = client.put(f"/api/orders/{order_id}/status", data=body, content_type="application/json", headers=ADMIN)
    assert 400 <= response.status_code < 500 and "error" in response.get_json()


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_json_body_sent_as_another_type_is_a_415_that_says_to_send_json(
    app: Flask, client: FlaskClient, content_type: str | None
) -> None:
    body = '{"status": "confirmed"}'
    created = client.post("/api/orders", json=order_body(), headers={**SERVICE, "Idempotency-Key": new_key()})
    change = client.put(
        f"/api/orders/{created.get_json()['id']}/status", data=body, content_type=content_type, headers=ADMIN
    )
    order = client.post(
        "/api/orders", data=body, content_type=content_type, headers={**SERVICE, "Idempotency-Key": new_key()}
    )
    for response in (change, order):
        assert response.status_code == 415 and "as JSON" in response.get_json()["error"]
    assert count_orders(app) == 1 and created.status_code == 201
