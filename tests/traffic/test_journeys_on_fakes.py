"""Journeys against a fake shop (store, cart and order service in one small app on loopback).

The fake tells the truth unless a test makes it lie: these tests show that a journey believes only what
it verifies from outside the page that claimed it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

import gevent
import pytest
from flask import Flask, jsonify, request
from locust.env import Environment
from locust.exception import StopUser
from werkzeug.serving import make_server

from musicstore.traffic.admin import Admin
from musicstore.traffic.journey import run_journey
from musicstore.traffic.ledger import Ledger
from musicstore.traffic.options import RunConfig
from musicstore.traffic.run import CURRENT
from musicstore.traffic.shoppers import DeclinedCardShopper, HttpShopper
from tests.support.servers import serving

ALBUMS = [{"id": 1, "title": "Blue Train", "genre": "Jazz", "price": "12.99", "stock": 5},
          {"id": 2, "title": "Kind of Blue", "genre": "Jazz", "price": "9.99", "stock": 5}]  # fmt: skip


class FakeShop:
    """One cart, one order book; `tamper_total` makes the order service report another total."""

    def __init__(self) -> None:
        self.lines: dict[int, int] = {}
        self.orders: list[dict[str, Any]] = []
        self.tamper_total = ""
        self.pay_answer: tuple[dict[str, Any], int] | None = None  # a refusal the fake gives instead of paying
        self.headers: list[dict[str, str]] = []
        self.app = self._app()

    def cart(self) -> dict[str, Any]:
        prices = {a["id"]: Decimal(a["price"]) for a in ALBUMS}
        items = [{"album_id": i, "quantity": q, "unit_price": str(prices[i])} for i, q in self.lines.items()]
        return {"items": items, "total": str(sum((prices[i] * q for i, q in self.lines.items()), Decimal("0.00")))}

    def _app(self) -> Flask:
        app = Flask("fake-shop")

        @app.before_request
        def record() -> None:
            self.headers.append(dict(request.headers))

        @app.get("/")
        def page() -> str:
            return "<html>shop</html>"

        @app.get("/checkout")
        def checkout() -> str:
            return "<html>checkout</html>"

        @app.get("/api/albums")
        def albums() -> Any:
            return jsonify(items=ALBUMS, total=len(ALBUMS), page=1, per_page=24)

        @app.post("/add_to_cart")
        @app.post("/update_quantity")
        def change() -> Any:
            body = request.get_json()
            self.lines[body["album_id"]] = body.get("quantity", 1)
            return jsonify(self.cart())

        @app.post("/remove_item")
        def remove() -> Any:
            self.lines.pop(request.get_json()["album_id"], None)
            return jsonify(self.cart())

        @app.get("/api/cart")
        def cart() -> Any:
            return jsonify(self.cart())

        @app.post("/process_payment")
        def pay() -> Any:
            body, cart = request.get_json(), self.cart()
            if self.pay_answer:
                return jsonify(self.pay_answer[0]), self.pay_answer[1]
            if body["card_number"].startswith("4000"):
                return jsonify(error="declined"), 402
            order = {"id": len(self.orders) + 1, "order_number": f"MS-{len(self.orders) + 1:06d}",
                     "customer_email": body["email"], "items": cart["items"], "total": cart["total"]}  # fmt: skip
            self.orders.append(order)
            self.lines.clear()
            return jsonify(order_id=order["id"], order_number=order["order_number"], total=cart["total"]), 201

        @app.get("/api/orders")
        def orders() -> Any:
            assert request.headers["Authorization"] == "Bearer token"
            found = [o for o in self.orders if o["customer_email"] == request.args["customer_email"]]
            if self.tamper_total:
                found = [{**o, "total": self.tamper_total} for o in found]
            return jsonify(items=found, total=len(found), page=1, per_page=100)

        return app


def served(app: Flask) -> AbstractContextManager[str]:
    """An app served on a free loopback port for the duration of the block; its base URL."""
    return serving(make_server("127.0.0.1", 0, app, threaded=True))


@pytest.fixture()
def shop() -> Iterator[tuple[FakeShop, str]]:
    """The fake shop served on a free loopback port."""
    fake = FakeShop()
    with served(fake.app) as url:
        yield fake, url


def configure(url: str) -> None:
    """A run against the fake shop, with a fresh ledger."""
    CURRENT.config = RunConfig(store=url, cart=url, orders=url, store_public=url, cart_public=url,
                               orders_public=url, service_token="token", admin_user="admin", admin_password="p",
                               think_min=0, think_max=0, max_browsers=0, browser_journeys=1, request_timeout=5,
                               chromium="", chromedriver="")  # fmt: skip
    CURRENT.ledger = Ledger()


def one_journey(user_class: type[HttpShopper] | type[DeclinedCardShopper]) -> Environment:
    environment = Environment(user_classes=[user_class])
    environment.create_local_runner()
    user = user_class(environment)
    user.on_start()
    run_journey(user, user.kind, user.one_journey)
    return environment


def test_two_users_asking_for_the_last_journey_of_the_budget_at_once_start_one(shop: tuple[FakeShop, str]) -> None:
    _, url = shop
    configure(url)
    CURRENT.ledger = Ledger(budget=1)
    environment = Environment(user_classes=[HttpShopper])
    environment.create_local_runner()
    users = [HttpShopper(environment) for _ in range(2)]
    for user in users:
        user.on_start()

    def journey(user: HttpShopper) -> None:
        with contextlib.suppress(StopUser):  # the one the budget turned away stops
            run_journey(user, user.kind, user.one_journey)

    try:
        assert len(gevent.joinall([gevent.spawn(journey, user) for user in users], timeout=30)) == 2
        assert CURRENT.ledger.started == 1 and CURRENT.ledger.spent
    finally:
        CURRENT.ending = False  # the spent budget ended this run: the next test's run is a new one


def test_a_purchase_whose_order_has_the_carts_total_is_verified(shop: tuple[FakeShop, str]) -> None:
    fake, url = shop
    configure(url)
    environment = one_journey(HttpShopper)
    assert CURRENT.ledger.as_json()["http shopper"]["verified"] == 1
    assert CURRENT.ledger.as_json()["http shopper"]["orders"] == len(fake.orders) == 1
    assert environment.stats.get("journey: http shopper", "JOURNEY").num_failures == 0


def test_every_request_of_an_http_shopper_carries_the_synthetic_baggage_and_names_the_generator(
    shop: tuple[FakeShop, str],
) -> None:
    fake, url = shop
    configure(url)
    one_journey(HttpShopper)
    assert len(fake.headers) >= 8
    assert all(h.get("Baggage") == "synthetic_request=true" for h in fake.headers)
    assert all("musicstore-traffic/" in h.get("User-Agent", "") for h in fake.headers)


def test_a_purchase_whose_order_has_another_total_fails_saying_what_was_expected_and_found(
    shop: tuple[FakeShop, str],
) -> None:
    fake, url = shop
    fake.tamper_total = "99.99"
    configure(url)
    environment = one_journey(HttpShopper)
    counts = CURRENT.ledger.as_json()["http shopper"]
    assert (counts["verified"], counts["failed"], counts["orders"]) == (0, 1, 0)
    reason = counts["failures"][0]["reason"]
    assert reason.startswith("order MS-000001: expected total ") and reason.endswith(
        "(as the cart showed), found 99.99"
    )
    errors = [str(e.error) for e in environment.stats.errors.values() if e.name == "journey: http shopper"]
    assert errors and "found 99.99" in errors[0]


def test_a_declined_card_that_made_no_order_and_kept_the_cart_is_verified(shop: tuple[FakeShop, str]) -> None:
    fake, url = shop
    configure(url)
    one_journey(DeclinedCardShopper)
    assert CURRENT.ledger.as_json()["declined card"]["verified"] == 1
    assert fake.orders == [] and fake.lines


def test_a_decline_after_which_the_cart_lost_its_lines_fails(shop: tuple[FakeShop, str]) -> None:
    fake, url = shop
    configure(url)
    original = fake.app.view_functions["pay"]

    def pay_and_lose_the_cart() -> Any:
        answer = original()
        fake.lines.clear()
        return answer

    fake.app.view_functions["pay"] = pay_and_lose_the_cart
    one_journey(DeclinedCardShopper)
    counts = CURRENT.ledger.as_json()["declined card"]
    assert counts["failed"] == 1
    assert counts["failures"][0]["reason"].startswith("expected the cart kept (1 x album")


def test_a_sold_out_answer_at_payment_with_no_order_and_the_cart_kept_is_verified(shop: tuple[FakeShop, str]) -> None:
    fake, url = shop
    fake.pay_answer = ({"error": "Only 0 of “Blue Train” in stock."}, 409)
    configure(url)
    one_journey(HttpShopper)
    counts = CURRENT.ledger.as_json()["http shopper"]
    assert (counts["sold_out"], counts["failed"], counts["orders"]) == (1, 0, 0)


def test_a_409_because_the_carts_total_moved_is_a_failure_not_a_sold_out(shop: tuple[FakeShop, str]) -> None:
    fake, url = shop
    fake.pay_answer = ({"error": "The total changed.", "total": "99.00"}, 409)
    configure(url)
    one_journey(HttpShopper)
    counts = CURRENT.ledger.as_json()["http shopper"]
    assert counts["failed"] == 1 and "the cart now says 99.00" in counts["failures"][0]["reason"]


class FakeLogin:
    """A login page whose first answer is the rate limit's 429 with a Retry-After."""

    def __init__(self) -> None:
        self.posts: list[float] = []
        self.app = Flask("fake-login")

        @self.app.get("/login")
        def page() -> str:
            return '<form><input id="csrf_token" name="csrf_token" type="hidden" value="tok"></form>'

        @self.app.post("/login")
        def log_in() -> Any:
            self.posts.append(time.monotonic())
            assert request.form["csrf_token"] == "tok" and request.form["password"] == "p"
            if len(self.posts) == 1:
                return "slow down", 429, {"Retry-After": "1"}
            return "welcome"


def test_the_admin_logs_in_once_per_service_and_honours_the_login_limits_retry_after() -> None:
    fake = FakeLogin()
    with served(fake.app) as url:
        configure(url)
        environment = Environment(user_classes=[Admin])
        environment.create_local_runner()
        admin = Admin(environment)
        admin.on_start()
        admin.ensure_logged_in()  # already logged in: no further attempt
    assert len(fake.posts) == 3  # the store (429, then in) and the order service (in), here at one URL
    assert fake.posts[1] - fake.posts[0] >= 1.0
    assert admin.logged_in == {url}
