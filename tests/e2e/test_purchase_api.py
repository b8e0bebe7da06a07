"""Purchases through the cart's JSON API, with the store and the order service really running."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import requests

from tests.e2e.conftest import ADMIN, DECLINED_CARD, GOOD_CARD, Shopper, Stack
from tests.support.waiting import eventually


def test_a_purchase_makes_the_order_with_the_right_total_and_takes_the_stock(stack: Stack, shopper: Shopper) -> None:
    first, second = stack.add_album(price="12.99", stock=5), stack.add_album(price="7.50", stock=3)
    assert shopper.add(first["id"], 2).status_code == 200
    assert shopper.add(second["id"]).status_code == 200
    assert shopper.cart()["total"] == "33.48"
    response = shopper.pay()
    assert response.status_code == 201, response.text
    answer = response.json()
    order = stack.order(answer["order_id"])
    assert order["order_number"] == answer["order_number"] and order["total"] == answer["total"] == "33.48"
    assert (order["customer_email"], order["card_brand"], order["card_last4"]) == (shopper.email, "visa", "4242")
    assert sorted((i["album_id"], i["quantity"]) for i in order["items"]) == sorted(
        [(first["id"], 2), (second["id"], 1)]
    )
    assert (stack.stock(first["id"]), stack.stock(second["id"])) == (3, 2)
    assert shopper.cart()["items"] == []


def test_a_declined_card_makes_no_order_keeps_the_cart_and_the_stock(stack: Stack, shopper: Shopper) -> None:
    album = stack.add_album(price="10.00", stock=4)
    shopper.add(album["id"], 2)
    response = shopper.pay(DECLINED_CARD)
    assert response.status_code == 402 and "declined" in response.json()["error"]
    assert stack.stock(album["id"]) == 4
    assert [(i["album_id"], i["quantity"]) for i in shopper.cart()["items"]] == [(album["id"], 2)]
    assert stack.orders_for(shopper.email) == []
    metrics = requests.get(f"{stack.cart.url}/metrics", timeout=5).text
    assert "payments_declined_total" in metrics


def test_with_the_order_service_stopped_checkout_fails_clearly_keeps_the_cart_and_releases_stock(
    stack: Stack, shopper: Shopper
) -> None:
    album = stack.add_album(price="20.00", stock=2)
    shopper.add(album["id"], 2)
    key = str(uuid.uuid4())
    stack.orders.stop()
    try:
        ready = requests.get(f"{stack.cart.url}/readyz", timeout=5).json()
        assert ready["downstreams"] == {"store": "up", "orders": "down"}
        response = shopper.pay(key=key)
        assert response.status_code == 503
        assert "order service is not available" in response.json()["error"]
        assert "cart has been kept" in response.json()["error"]
        assert stack.stock(album["id"]) == 2
        assert [(i["album_id"], i["quantity"]) for i in shopper.cart()["items"]] == [(album["id"], 2)]
    finally:
        stack.orders.start()
    # Once it is back, the same key runs the checkout again (a 503 is not kept), under a new reservation id.
    retried = shopper.pay(key=key)
    assert retried.status_code == 201, retried.text
    assert len(stack.orders_for(shopper.email)) == 1
    assert stack.stock(album["id"]) == 0 and shopper.cart()["items"] == []
    assert shopper.pay(key=key).json()["order_id"] == retried.json()["order_id"]  # now the answer is kept


def test_an_email_the_order_service_would_refuse_is_a_422_field_error_with_no_order_and_no_stock_taken(
    stack: Stack, shopper: Shopper
) -> None:
    album = stack.add_album(price="11.00", stock=3)
    shopper.add(album["id"], 2)
    response = shopper.pay(email="bob@mail..com")
    assert response.status_code == 422, response.text
    assert set(response.json()["fields"]) == {"email"}
    assert stack.orders_for("bob@mail..com") == []
    assert stack.stock(album["id"]) == 3
    assert [(i["album_id"], i["quantity"]) for i in shopper.cart()["items"]] == [(album["id"], 2)]
    assert shopper.pay().status_code == 201  # corrected, the same cart checks out
    assert stack.stock(album["id"]) == 1


def test_submitting_one_checkout_twice_at_once_makes_one_order(stack: Stack, shopper: Shopper) -> None:
    album = stack.add_album(price="9.99", stock=5)
    shopper.add(album["id"], 1)
    key = str(uuid.uuid4())
    answers: list[requests.Response] = []
    submits = [threading.Thread(target=lambda: answers.append(shopper.pay(key=key))) for _ in range(2)]
    for submit in submits:
        submit.start()
    for submit in submits:
        submit.join()
    assert [a.status_code for a in answers] == [201, 201]  # the same answer to both
    assert len({a.json()["order_id"] for a in answers}) == 1
    assert len(stack.orders_for(shopper.email)) == 1
    assert stack.stock(album["id"]) == 4
    assert shopper.pay(key=key).json()["order_id"] == answers[0].json()["order_id"]  # a later retry too


def test_two_carts_racing_for_the_last_copy_make_one_order_and_tell_the_other_clearly(stack: Stack) -> None:
    album = stack.add_album(price="30.00", stock=1)
    shoppers = [Shopper(stack.cart.url), Shopper(stack.cart.url)]
    for shopper in shoppers:
        assert shopper.add(album["id"]).status_code == 200
    answers: dict[int, Any] = {}
    racers = [threading.Thread(target=lambda i=i: answers.__setitem__(i, shoppers[i].pay())) for i in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    statuses = sorted(a.status_code for a in answers.values())
    assert statuses == [201, 409]
    loser = next(i for i, a in answers.items() if a.status_code == 409)
    assert f"only 0 of “{album['title']}” left" in answers[loser].json()["error"]
    assert sum(len(stack.orders_for(s.email)) for s in shoppers) == 1
    assert stack.stock(album["id"]) == 0
    assert shoppers[loser].cart()["count"] == 1  # the loser's cart is kept


def test_parallel_payments_of_one_cart_with_different_keys_make_one_order_and_refuse_the_others(
    stack: Stack, shopper: Shopper
) -> None:
    album = stack.add_album(price="12.00", stock=5)
    assert shopper.add(album["id"]).status_code == 200
    cart_id = shopper.cart()["cart_id"]
    answers: list[requests.Response] = []

    def pay(n: int) -> None:  # five windows of one cart, each with its own checkout key
        body = {"name": "E2E Shopper", "email": shopper.email, **GOOD_CARD, "idempotency_key": f"multi-{n}-{cart_id}"}
        url = f"{stack.cart.url}/process_payment"
        answers.append(requests.post(url, json=body, headers={"X-Cart-Id": cart_id}, timeout=30))

    windows = [threading.Thread(target=pay, args=(n,)) for n in range(1, 6)]
    for window in windows:
        window.start()
    for window in windows:
        window.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses[0] == 201 and set(statuses[1:]) <= {409, 503}, [a.text for a in answers]
    assert {a.json()["error"] for a in answers if a.status_code == 409} <= {
        "This cart is already being checked out in another window; refresh in a moment."
    }  # or 503: more checkouts at once than the cart's checkout bulkhead lets wait, refused at once
    assert all("cart has been kept" in a.json()["error"] for a in answers if a.status_code == 503)
    assert len(stack.orders_for(shopper.email)) == 1
    assert stack.stock(album["id"]) == 4 and shopper.cart()["items"] == []


def test_the_shop_opened_under_another_loopback_name_can_add_to_the_cart(stack: Stack) -> None:
    album = stack.add_album(price="8.00", stock=2)
    alias = stack.store.url.replace("127.0.0.1", "localhost")  # the stack's public URLs use 127.0.0.1
    http = requests.Session()
    response = http.post(
        f"{stack.cart.url}/add_to_cart",
        data={"album_id": album["id"], "quantity": 1},
        headers={"Origin": alias},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 303, response.text
    assert http.get(f"{stack.cart.url}/api/cart", timeout=10).json()["count"] == 1


def test_cancelling_an_order_bought_through_the_cart_gives_its_stock_back_once(stack: Stack, shopper: Shopper) -> None:
    album = stack.add_album(price="9.00", stock=4)
    shopper.add(album["id"], 3)
    order_id = shopper.pay().json()["order_id"]
    assert stack.stock(album["id"]) == 1
    cancel = requests.put(
        f"{stack.orders.url}/api/orders/{order_id}/status", json={"status": "cancelled"}, headers=ADMIN, timeout=10
    )
    assert cancel.status_code == 200, cancel.text

    def returned() -> None:
        assert stack.stock(album["id"]) == 4

    eventually(returned, timeout=30)
    again = requests.put(
        f"{stack.orders.url}/api/orders/{order_id}/status", json={"status": "cancelled"}, headers=ADMIN, timeout=10
    )
    assert again.status_code in (200, 409) and stack.stock(album["id"]) == 4  # a repeat returns nothing more
