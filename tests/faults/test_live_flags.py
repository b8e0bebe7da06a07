"""Each flag's effect end to end, with the three services running (real HTTP, flags in their DATA_DIR/flags.json):
in effect within 5 s of the switch, gone within 5 s of switching it off, every fault marked and counted."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from musicstore.common import flags
from musicstore.common.flags import FlagValue
from tests.support.waiting import eventually
from tests.traffic.shop import SERVICE_TOKEN, Shop

pytestmark = pytest.mark.slow
HEADER = "X-Fault-Injected"
CARD = {"name": "Ada Lovelace", "card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvv": "123"}


@contextmanager
def switched(shop: Shop, name: str, value: FlagValue) -> Iterator[None]:
    """The flag on for the block, switched off after."""
    path = shop.root / "var" / "flags.json"
    flags.set_value(path, name, value)
    try:
        yield
    finally:
        flags.set_value(path, name, flags.FLAGS[name].off)


def cart_with_an_album(shop: Shop) -> dict[str, str]:
    """A new cart (X-Cart-Id) holding one album in stock."""
    headers = {"X-Cart-Id": uuid.uuid4().hex}
    albums = requests.get(f"{shop.url('store')}/api/albums", params={"per_page": 100}, timeout=10).json()["items"]
    album = next(a for a in albums if a["stock"] > 0)
    added = requests.post(
        f"{shop.url('cart')}/add_to_cart", json={"album_id": album["id"]}, headers=headers, timeout=10
    )
    assert added.status_code in (200, 201), added.text
    return headers


def pay(shop: Shop, cart: dict[str, str], email: str) -> requests.Response:
    body = {**CARD, "email": email, "idempotency_key": str(uuid.uuid4())}
    return requests.post(f"{shop.url('cart')}/process_payment", json=body, headers=cart, timeout=30)


def orders_of(shop: Shop, email: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{shop.url('orders')}/api/orders", params={"customer_email": email},
                          headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=10)  # fmt: skip
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def injected(shop: Shop, service: str, flag: str) -> float:
    """faults_injected_total{flag} on a service's /metrics."""
    for line in requests.get(f"{shop.url(service)}/metrics", timeout=10).text.splitlines():
        if line.startswith("faults_injected_total{") and f'flag="{flag}"' in line:
            return float(line.split()[-1])
    return 0.0


def test_store_api_failure_and_latency_reach_the_store_and_the_carts_answers(shop: Shop) -> None:
    store = shop.url("store")
    cart = cart_with_an_album(shop)
    with switched(shop, "storeApiFailure", 1):

        def failing() -> None:
            answer = requests.get(f"{store}/api/albums", timeout=10)
            assert answer.status_code == 503 and answer.headers[HEADER] == "storeApiFailure"

        eventually(failing, timeout=5)
        relayed = requests.get(f"{shop.url('cart')}/api/cart", headers=cart, timeout=10)
        assert relayed.status_code == 503 and relayed.headers[HEADER] == "storeApiFailure"  # the cart passes it on
        assert requests.get(f"{store}/", timeout=10).status_code == 200  # pages are not the API
        assert injected(shop, "store", "storeApiFailure") >= 1
    eventually(lambda: _answers(f"{store}/api/albums", 200), timeout=5)
    with switched(shop, "storeApiLatencyMs", 600):

        def slow() -> None:
            started = time.perf_counter()
            answer = requests.get(f"{store}/api/stats", timeout=10)
            assert time.perf_counter() - started >= 0.6 and answer.headers.get(HEADER) == "storeApiLatencyMs"

        eventually(slow, timeout=5)
    eventually(lambda: _answers(f"{store}/api/stats", 200), timeout=5)


def test_orders_unavailable_makes_the_checkout_fail_with_the_mark_no_order_and_the_cart_kept(shop: Shop) -> None:
    cart, email = cart_with_an_album(shop), f"fault-{uuid.uuid4().hex[:8]}@example.com"
    with switched(shop, "ordersUnavailable", True):

        def refused() -> None:
            answer = post_order(shop.url("orders"), "k-12345678")
            assert answer.status_code == 503 and answer.headers[HEADER] == "ordersUnavailable"

        eventually(refused, timeout=5)
        answer = pay(shop, cart, email)
        assert answer.status_code == 503 and answer.headers[HEADER] == "ordersUnavailable", answer.text
        assert orders_of(shop, email) == []
        assert requests.get(f"{shop.url('cart')}/api/cart", headers=cart, timeout=10).json()["count"] == 1
    eventually(lambda: _not_marked(shop.url("orders")), timeout=5)
    placed = pay(shop, cart, email)  # the fault off, the same cart checks out
    assert placed.status_code == 201 and HEADER not in placed.headers and len(orders_of(shop, email)) == 1


def cart_has_read_the_flags(shop: Shop) -> None:
    """Wait until the cart has read the flag file as it is now: its own readiness flag, switched on and off, shows
    it (a payment flag shows only by paying, which would spend the cart)."""
    cart, path = shop.url("cart"), shop.root / "var" / "flags.json"
    flags.set_value(path, "cartNotReady", True)
    eventually(lambda: _answers(f"{cart}/readyz", 503), timeout=5)
    flags.set_value(path, "cartNotReady", False)
    eventually(lambda: _answers(f"{cart}/readyz", 200), timeout=5)


def test_payment_failure_and_latency_act_on_the_carts_payment(shop: Shop) -> None:
    cart, email = cart_with_an_album(shop), f"fault-{uuid.uuid4().hex[:8]}@example.com"
    with switched(shop, "paymentFailure", 1):
        cart_has_read_the_flags(shop)
        answer = pay(shop, cart, email)
        assert answer.status_code == 402 and answer.headers[HEADER] == "paymentFailure", answer.text
        assert "declined: injected fault" in answer.json()["error"]
        assert orders_of(shop, email) == []
        assert requests.get(f"{shop.url('cart')}/api/cart", headers=cart, timeout=10).json()["count"] == 1
        assert injected(shop, "cart", "paymentFailure") >= 1
        with switched(shop, "paymentLatencyMs", 800):
            cart_has_read_the_flags(shop)
            started = time.perf_counter()
            answer = pay(shop, cart, email)
            assert answer.status_code == 402 and answer.headers[HEADER] == "paymentLatencyMs, paymentFailure"
            assert time.perf_counter() - started >= 0.8
            flags.set_value(shop.root / "var" / "flags.json", "paymentFailure", 0)
            cart_has_read_the_flags(shop)
            started = time.perf_counter()
            answer = pay(shop, cart, email)
            assert answer.status_code == 201 and answer.headers[HEADER] == "paymentLatencyMs", answer.text
            assert time.perf_counter() - started >= 0.8
    assert len(orders_of(shop, email)) == 1


def test_cart_not_ready_takes_the_carts_readiness_down_and_back(shop: Shop) -> None:
    cart = shop.url("cart")
    with switched(shop, "cartNotReady", True):
        eventually(lambda: _answers(f"{cart}/readyz", 503), timeout=5)
        assert requests.get(f"{cart}/readyz", timeout=10).headers[HEADER] == "cartNotReady"
        assert requests.get(f"{cart}/healthz", timeout=10).status_code == 200
    eventually(lambda: _answers(f"{cart}/readyz", 200), timeout=5)


def _answers(url: str, status: int) -> None:
    assert requests.get(url, timeout=10).status_code == status


def post_order(orders: str, key: str) -> requests.Response:
    """POST /api/orders with the service token (an empty body: only whether the fault answers matters)."""
    headers = {"Authorization": f"Bearer {SERVICE_TOKEN}", "Idempotency-Key": key}
    return requests.post(f"{orders}/api/orders", json={}, headers=headers, timeout=10)


def _not_marked(orders: str) -> None:
    assert HEADER not in post_order(orders, "k-87654321").headers
