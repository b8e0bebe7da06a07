"""A cancelled order's stock goes back to the real store exactly once, with the services really running."""

from __future__ import annotations

import uuid

import requests

from tests.e2e.conftest import ADMIN, SERVICE, Stack
from tests.support.waiting import eventually


def returned_total(stack: Stack) -> float:
    text = requests.get(f"{stack.store.url}/metrics", timeout=5).text
    found = [line.split()[1] for line in text.splitlines() if line.startswith("stock_returned_total ")]
    return float(found[0]) if found else 0.0


def stock_call(stack: Stack, action: str, reservation_id: str, **body: object) -> requests.Response:
    return requests.post(
        f"{stack.store.url}/api/stock/{action}",
        json={"reservation_id": reservation_id, **body},
        headers=SERVICE,
        timeout=10,
    )


def test_cancelling_an_order_gives_its_reserved_stock_back_to_the_store_exactly_once(stack: Stack) -> None:
    album = stack.add_album(price="9.99", stock=25)
    reservation_id = f"e2e-{uuid.uuid4().hex[:16]}"
    reserved = stock_call(stack, "reserve", reservation_id, items=[{"album_id": album["id"], "quantity": 5}])
    assert reserved.status_code == 200, reserved.text
    assert stack.stock(album["id"]) == 20
    returned_before = returned_total(stack)
    line = {"album_id": album["id"], "title": album["title"], "artist": "The Testers", "unit_price": "9.99"}
    body = {
        "customer_name": "E2E Shopper",
        "customer_email": "cancel@example.com",
        "card_brand": "visa",
        "card_last4": "4242",
        "reservation_id": reservation_id,
        "items": [{**line, "quantity": 5}],
    }
    headers = {**SERVICE, "Idempotency-Key": str(uuid.uuid4())}
    made = requests.post(f"{stack.orders.url}/api/orders", json=body, headers=headers, timeout=10)
    assert made.status_code == 201, made.text
    order_id = made.json()["id"]

    cancelled = requests.put(
        f"{stack.orders.url}/api/orders/{order_id}/status", json={"status": "cancelled"}, headers=ADMIN, timeout=10
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    def stock_is_back() -> None:
        assert stack.stock(album["id"]) == 25

    eventually(stock_is_back, timeout=20)
    # The reservation has ended: a release or another return gives nothing more back.
    assert stock_call(stack, "release", reservation_id).status_code == 409
    assert stock_call(stack, "return", reservation_id).status_code == 200
    assert stack.stock(album["id"]) == 25
    assert returned_total(stack) == returned_before + 1
