"""Journeys that meet an injected fault (an answer marked X-Fault-Injected): verified (fault) when what must hold
through it held (no order, the cart kept), failed when it did not; on the fake shop of the journey tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Response, request

from musicstore.traffic.run import CURRENT
from musicstore.traffic.shoppers import HttpShopper
from tests.traffic.test_journeys_on_fakes import FakeShop, configure, one_journey, served


@pytest.fixture()
def shop() -> Iterator[tuple[FakeShop, str, dict[str, str]]]:
    """The fake shop; `marks` maps a path to the fault its answers are marked with."""
    fake, marks = FakeShop(), {}

    @fake.app.after_request
    def mark(response: Response) -> Response:
        if request.path in marks:
            response.headers["X-Fault-Injected"] = marks[request.path]
        return response

    with served(fake.app) as url:
        configure(url)
        yield fake, url, marks


def test_a_payment_declined_by_an_injected_fault_with_no_order_and_the_cart_kept_is_verified_fault(
    shop: tuple[FakeShop, str, dict[str, str]],
) -> None:
    fake, _url, marks = shop
    fake.pay_answer = ({"error": "Your payment was declined: injected fault (paymentFailure)."}, 402)
    marks["/process_payment"] = "paymentFailure"
    one_journey(HttpShopper)
    counts = CURRENT.ledger.as_json()["http shopper"]
    assert counts["verified_fault"] == 1 and counts["failed"] == 0 and counts["orders"] == 0


def test_an_order_service_fault_after_which_an_order_exists_all_the_same_fails_saying_so(
    shop: tuple[FakeShop, str, dict[str, str]],
) -> None:
    fake, _url, marks = shop
    fake.orders.append({"id": 9, "order_number": "MS-000009", "customer_email": "", "items": [], "total": "1.00"})
    fake.pay_answer = ({"error": "We couldn't place your order."}, 503)
    marks["/process_payment"] = "ordersUnavailable"
    original = fake.app.view_functions["orders"]

    def every_order_is_the_shoppers() -> object:  # the order service claims an order for whoever asks
        fake.orders[0]["customer_email"] = request.args["customer_email"]
        return original()

    fake.app.view_functions["orders"] = every_order_is_the_shoppers
    one_journey(HttpShopper)
    counts = CURRENT.ledger.as_json()["http shopper"]
    assert counts["failed"] == 1 and counts["verified_fault"] == 0
    assert "after an injected fault (ordersUnavailable): expected no order" in counts["failures"][0]["reason"]


def test_a_purchase_whose_answers_were_slowed_by_an_injected_fault_is_verified_fault_with_its_order(
    shop: tuple[FakeShop, str, dict[str, str]],
) -> None:
    _fake, _url, marks = shop
    marks["/api/albums"] = "storeApiLatencyMs"
    one_journey(HttpShopper)
    counts = CURRENT.ledger.as_json()["http shopper"]
    assert counts["verified_fault"] == 1 and counts["orders"] == 1 and counts["failed"] == 0


def test_a_503_that_names_no_injected_fault_is_still_a_failure(shop: tuple[FakeShop, str, dict[str, str]]) -> None:
    fake, _url, _marks = shop
    fake.pay_answer = ({"error": "We couldn't place your order."}, 503)
    one_journey(HttpShopper)
    counts = CURRENT.ledger.as_json()["http shopper"]
    assert counts["failed"] == 1 and counts["verified_fault"] == 0
