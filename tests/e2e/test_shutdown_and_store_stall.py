"""SIGTERM lets in-flight requests finish; a stalled store slows no cart health check and no page for long."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.e2e.conftest import Shopper, Stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow


def test_sigterm_lets_a_checkout_under_way_finish_with_its_order(stack: Stack, shopper: Shopper) -> None:
    album = stack.add_album(price="11.00", stock=2)
    shopper.add(album["id"])
    answers: list[requests.Response] = []
    paying = threading.Thread(target=lambda: answers.append(shopper.pay(key=str(uuid.uuid4()))))
    stack.orders.pause()  # hold the checkout at the order service, so it is surely under way at SIGTERM
    try:
        paying.start()

        def reserved() -> None:
            assert stack.stock(album["id"]) == 1

        eventually(reserved)
        assert stack.cart.process is not None
        stack.cart.process.terminate()
    finally:
        stack.orders.resume()
    paying.join(30)
    try:
        assert answers and answers[0].status_code == 201, answers[0].text if answers else "no answer"
        assert stack.cart.process.wait(30) == 0 and len(stack.orders_for(shopper.email)) == 1
    finally:
        stack.cart.start()


def test_with_the_store_stalled_cart_pages_answer_within_their_deadline_and_healthz_at_once(stack: Stack) -> None:
    album = stack.add_album(price="3.00", stock=50)
    shoppers = [Shopper(stack.cart.url) for _ in range(12)]
    for shopper in shoppers:
        shopper.add(album["id"])

    def view(shopper: Shopper) -> tuple[int, float]:
        started = time.monotonic()
        response = shopper.http.get(f"{stack.cart.url}/cart", timeout=30)
        return response.status_code, time.monotonic() - started

    stack.store.pause()
    try:
        with ThreadPoolExecutor(12) as pool:
            views = pool.map(view, shoppers)
            started = time.monotonic()
            health = requests.get(f"{stack.cart.url}/healthz", timeout=5)
            health_took = time.monotonic() - started
            results: list[Any] = list(views)
    finally:
        stack.store.resume()
    assert health.status_code == 200 and health_took < 0.5
    assert all(status == 200 for status, _ in results)  # the page says the store is away, and keeps the cart
    assert max(took for _, took in results) < 4.0  # one deadline of 2 s per page, not 3 tries of 3 s per line
