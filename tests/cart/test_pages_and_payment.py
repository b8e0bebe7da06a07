"""The cart's pages, parsed as HTML, and POST /process_payment for forms and JSON."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from flask_limiter import _extension as flask_limiter_extension
from sqlalchemy import update

from musicstore.cart.context import reconciler
from musicstore.cart.models import CheckoutAttempt
from musicstore.common.db import get_database, utcnow
from musicstore.common.limit_storage import ServerStorage
from musicstore.common.metrics import get_metrics
from tests.cart.conftest import STORE_URL, VALID_CARD, cart_settings, csrf_token, make_app, page, quantities
from tests.cart.fakes import FakeOrders, FakeStore
from tests.support.locked import limits_locked


def fill(client: FlaskClient, lines: dict[int, int]) -> None:
    for album_id, quantity in lines.items():
        client.post("/add_to_cart", json={"album_id": album_id, "quantity": quantity}).close()


def pay_json(client: FlaskClient, key: str | None = None, **card: str) -> Any:
    return client.post("/process_payment", json={**VALID_CARD, **card, "idempotency_key": key or str(uuid.uuid4())})


def test_the_home_redirects_to_the_cart_page(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/cart")


def test_the_cart_page_shows_covers_quantities_totals_and_its_own_assets(client: FlaskClient) -> None:
    fill(client, {1: 2, 2: 1})
    html = page(client, "/cart")
    rows = html.select("tr.cart-line")
    assert [r.select_one(".line-title").text for r in rows] == ["Blue Train", "Kind of Blue"]
    assert rows[0].select_one("img.cover")["src"] == "http://store.test/covers/1.png"
    assert rows[0].select_one('input[name="quantity"]')["value"] == "2"
    assert rows[0].select_one(".line-total").text.strip() == "$25.98"
    assert html.select_one("#cart-total").text == "$35.48"
    assert all(form.select_one('input[name="csrf_token"]')["value"] for form in html.select("main form"))
    assert html.select_one('script[src="/static/cart/cart.js"]') is not None
    assert html.select_one("nav a.active").text == "Cart"
    assert html.find("a", string="Continue shopping")["href"] == f"{STORE_URL}/"


def test_the_cart_page_lets_the_store_covers_through_its_csp(client: FlaskClient) -> None:
    csp = client.get("/cart").headers["Content-Security-Policy"]
    assert f"img-src 'self' data: {STORE_URL}" in csp and "script-src 'self'" in csp


def test_the_static_script_and_styles_are_served(client: FlaskClient) -> None:
    for name in ("cart.js", "cart.css"):
        response = client.get(f"/static/cart/{name}")
        assert response.status_code == 200
        response.close()


def test_an_empty_cart_page_says_so(client: FlaskClient) -> None:
    assert "Your cart is empty." in page(client, "/cart").select_one(".cart-empty").text


def test_the_cart_page_says_the_store_is_down_and_keeps_the_cart(client: FlaskClient, store: FakeStore) -> None:
    fill(client, {1: 1})
    store.down = True
    assert "can't reach the store" in page(client, "/cart").select_one(".store-down").text
    store.down = False
    assert quantities(client) == {1: 1}


def test_a_refused_form_change_shows_the_cart_page_with_the_message(client: FlaskClient) -> None:
    fill(client, {2: 1})
    token = csrf_token(client)
    response = client.post("/update_quantity", data={"album_id": "2", "quantity": "5", "csrf_token": token})
    assert response.status_code == 409
    assert "Only 2 of “Kind of Blue” in stock." in response.get_data(as_text=True)
    assert quantities(client) == {2: 1}


def test_checkout_with_an_empty_cart_goes_back_to_the_cart(client: FlaskClient) -> None:
    response = client.get("/checkout")
    assert response.status_code == 302 and response.headers["Location"].endswith("/cart")


def test_the_checkout_page_has_the_summary_the_card_form_and_a_fresh_key(client: FlaskClient) -> None:
    fill(client, {1: 1})
    first, second = page(client, "/checkout"), page(client, "/checkout")
    keys = [p.select_one('input[name="idempotency_key"]')["value"] for p in (first, second)]
    assert keys[0] != keys[1] and str(uuid.UUID(keys[0])) == keys[0]
    form = first.select_one("form#payment-form")
    assert {i["name"] for i in form.select("input")} == {
        "csrf_token",
        "idempotency_key",
        "expected_total",
        "name",
        "email",
        "card_number",
        "expiry",
        "cvv",
    }
    assert first.select_one("#checkout-total").text == "$12.99"


def test_paying_by_form_redirects_to_the_confirmation_with_the_order_and_tracking_link(
    client: FlaskClient, orders: FakeOrders
) -> None:
    fill(client, {1: 2})
    html = page(client, "/checkout")
    key = html.select_one('input[name="idempotency_key"]')["value"]
    data = {**VALID_CARD, "idempotency_key": key, "csrf_token": csrf_token(client)}
    response = client.post("/process_payment", data=data)
    assert response.status_code == 303
    confirmation = page(client, response.headers["Location"])
    assert confirmation.select_one("#order-number").text == "ORD-00001"
    assert confirmation.select_one("#order-total").text == "$25.98"
    assert confirmation.select_one("#tracking-link")["href"] == "http://orders.test/track/ORD-00001"
    assert quantities(client) == {}
    again = client.post("/process_payment", data=data)  # a refresh of the POST
    assert again.status_code == 303 and again.headers["Location"] == response.headers["Location"]
    assert len(orders.orders) == 1


def test_a_confirmation_is_only_shown_to_its_own_cart(app: Flask, client: FlaskClient) -> None:
    fill(client, {1: 1})
    key = str(uuid.uuid4())
    assert pay_json(client, key).status_code == 201
    stranger = app.test_client()
    assert stranger.get(f"/confirmation/{key}").status_code == 404
    assert client.get(f"/confirmation/{key}").status_code == 200


def test_paying_by_json_answers_201_with_the_order(client: FlaskClient) -> None:
    fill(client, {1: 1, 3: 2})
    response = pay_json(client)
    assert response.status_code == 201
    body = response.get_json()
    assert (body["order_id"], body["order_number"], body["total"]) == (1, "ORD-00001", "42.99")


def test_an_invalid_card_is_a_422_with_field_errors_and_the_cart_untouched(
    client: FlaskClient, store: FakeStore, orders: FakeOrders
) -> None:
    fill(client, {1: 1})
    response = pay_json(client, card_number="1234", expiry="01/20", cvv="1")
    assert response.status_code == 422
    assert set(response.get_json()["fields"]) == {"card_number", "expiry", "cvv"}
    assert quantities(client) == {1: 1} and store.stock(1) == 5 and orders.orders == {}


def test_an_invalid_card_by_form_shows_the_errors_beside_the_fields_and_keeps_the_key(client: FlaskClient) -> None:
    fill(client, {1: 1})
    key = str(uuid.uuid4())
    data = {**VALID_CARD, "card_number": "12", "idempotency_key": key, "csrf_token": csrf_token(client)}
    response = client.post("/process_payment", data=data)
    assert response.status_code == 422
    html = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert "13 to 19 digits" in html.select_one("#card_number-error").text
    assert html.select_one('input[name="idempotency_key"]')["value"] == key
    assert html.select_one('input[name="name"]')["value"] == "Ada Lovelace"
    assert html.select_one('input[name="card_number"]')["value"] == ""


def test_a_missing_idempotency_key_is_a_field_error(client: FlaskClient) -> None:
    fill(client, {1: 1})
    response = client.post("/process_payment", json=VALID_CARD)
    assert response.status_code == 422 and "idempotency_key" in response.get_json()["fields"]


def test_a_declined_card_is_a_402_counted_in_the_metrics_and_the_cart_is_kept(
    client: FlaskClient, store: FakeStore
) -> None:
    fill(client, {1: 1})
    response = pay_json(client, card_number="4000 0000 0000 0002")
    assert response.status_code == 402 and "declined" in response.get_json()["error"]
    assert quantities(client) == {1: 1} and store.stock(1) == 5
    assert "payments_declined_total 1.0" in client.get("/metrics").get_data(as_text=True)


def test_a_declined_card_by_form_shows_the_message_and_a_new_key(client: FlaskClient) -> None:
    fill(client, {1: 1})
    data = {
        **VALID_CARD,
        "card_number": "4000000000000002",
        "idempotency_key": "k-declined-1",
        "csrf_token": csrf_token(client),
    }
    response = client.post("/process_payment", data=data)
    text = response.get_data(as_text=True)
    assert response.status_code == 402 and "Your card was declined." in text
    assert 'value="k-declined-1"' not in text


def test_paying_with_an_empty_cart_is_a_400(client: FlaskClient) -> None:
    assert pay_json(client).status_code == 400


def test_the_order_service_down_at_payment_is_a_503_and_the_cart_is_kept(
    client: FlaskClient, store: FakeStore, orders: FakeOrders
) -> None:
    fill(client, {1: 2})
    orders.down = True
    response = pay_json(client)
    assert response.status_code == 503 and "order service" in response.get_json()["error"]
    assert quantities(client) == {1: 2} and store.stock(1) == 5


def test_a_json_client_retrying_a_503_with_the_same_key_gets_its_order_once_the_service_is_back(
    client: FlaskClient, store: FakeStore, orders: FakeOrders
) -> None:
    fill(client, {1: 2})
    orders.down = True
    assert pay_json(client, "retry-key-1").status_code == 503
    orders.down = False
    response = pay_json(client, "retry-key-1")
    assert response.status_code == 201 and response.get_json()["order_number"] == "ORD-00001"
    assert len(orders.orders) == 1 and store.stock(1) == 3 and quantities(client) == {}


def test_after_a_503_by_form_the_page_keeps_the_key_so_a_resubmit_continues_the_checkout(
    client: FlaskClient, orders: FakeOrders
) -> None:
    fill(client, {1: 1})
    orders.down = True
    data = {**VALID_CARD, "idempotency_key": "k-interrupted-1", "csrf_token": csrf_token(client)}
    response = client.post("/process_payment", data=data)
    html = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert response.status_code == 503 and "order service is not available" in html.text
    assert html.select_one('input[name="idempotency_key"]')["value"] == "k-interrupted-1"
    orders.down = False
    assert client.post("/process_payment", data=data).status_code == 303


def test_an_email_the_order_service_would_refuse_is_a_field_error_before_any_payment(
    client: FlaskClient, store: FakeStore, orders: FakeOrders
) -> None:
    fill(client, {1: 1})
    for email in ("bob@mail..com", "x" * 65 + "@example.com"):
        response = pay_json(client, email=email)
        assert response.status_code == 422 and set(response.get_json()["fields"]) == {"email"}
    assert orders.calls == 0 and store.stock(1) == 5 and quantities(client) == {1: 1}


@pytest.mark.parametrize(
    ("card_number", "status"),
    [("4242424242424242", 201), ("4242 4242 4242 4242", 201), ("4000 0000 0000 0002", 402)],  # the last: a decline
)
def test_the_full_card_number_never_reaches_the_logs(
    client: FlaskClient, orders: FakeOrders, caplog: pytest.LogCaptureFixture, card_number: str, status: int
) -> None:
    digits = card_number.replace(" ", "")
    caplog.set_level(logging.DEBUG)
    fill(client, {1: 1})
    response = pay_json(client, card_number=card_number)
    assert response.status_code == status
    assert any(r.getMessage().startswith("checkout ") for r in caplog.records)  # the checkout did log
    logged = caplog.text + "".join(repr(r.args) + repr(r.__dict__) for r in caplog.records)
    assert digits not in logged and card_number not in logged
    assert digits not in repr(orders.orders)


def test_payments_are_rate_limited_per_cart_with_retry_after(
    data_dir: Path, store: FakeStore, orders: FakeOrders
) -> None:
    app = make_app(cart_settings(data_dir, PAYMENT_RATE_LIMIT="2 per minute"), store, orders)
    first, second = app.test_client(), app.test_client()
    fill(first, {1: 1})
    fill(second, {1: 1})
    statuses = [pay_json(first, card_number="4000000000000002").status_code for _ in range(3)]
    assert statuses == [402, 402, 429]
    assert int(pay_json(first).headers["Retry-After"]) > 0
    assert pay_json(second).status_code == 201  # another cart, same address: not throttled
    (limiter,) = app.extensions["limiter"]
    assert isinstance(limiter.storage, ServerStorage)  # memory://: one count for every worker of the server
    get_database(app).dispose()


def test_a_payment_limit_that_cannot_be_counted_lets_the_payment_through(
    app: Flask, client: FlaskClient, orders: FakeOrders
) -> None:
    fill(client, {1: 1})
    with limits_locked(app):
        assert pay_json(client).status_code == 201
    assert len(orders.orders) == 1


def test_readyz_reports_store_and_orders_as_downstreams(client: FlaskClient, orders: FakeOrders) -> None:
    orders.down = True
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["downstreams"] == {"store": "up", "orders": "down"}


@pytest.mark.parametrize(
    ("path", "quantity", "message"),
    [
        ("/add_to_cart", "0", "Choose a quantity from 1 to 10."),
        ("/add_to_cart", "eleven", "Choose a quantity from 1 to 10."),
        ("/update_quantity", "11", "Choose a quantity from 1 to 10 (0 removes the album)."),
        ("/update_quantity", "-1", "Choose a quantity from 1 to 10 (0 removes the album)."),
    ],
)
def test_a_bad_quantity_by_form_shows_a_message_a_shopper_understands(
    client: FlaskClient, path: str, quantity: str, message: str
) -> None:
    fill(client, {1: 1})
    token = csrf_token(client)
    response = client.post(path, data={"album_id": "1", "quantity": quantity, "csrf_token": token})
    assert response.status_code == 400
    shown = BeautifulSoup(response.get_data(as_text=True), "html.parser").select_one(".flash-error")
    assert shown is not None and shown.text.strip() == message
    assert quantities(client) == {1: 1}


@pytest.mark.parametrize("path", ["/cart", "/checkout"])
def test_the_cart_and_checkout_pages_are_never_kept_in_a_cache(client: FlaskClient, path: str) -> None:
    fill(client, {1: 1})
    response = client.get(path)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"


def test_the_checkout_page_sends_the_total_it_shows_and_a_changed_cart_is_refused_with_the_new_total(
    client: FlaskClient, store: FakeStore, orders: FakeOrders
) -> None:
    fill(client, {1: 1})
    html = page(client, "/checkout")
    form = {field["name"]: field.get("value", "") for field in html.select("#payment-form input[type=hidden]")}
    assert form["expected_total"] == "12.99"
    fill(client, {1: 2})  # another tab: now three copies
    response = client.post("/process_payment", data={**VALID_CARD, **form})
    again = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert response.status_code == 409 and "$38.97" in again.select_one(".flash-error").text
    assert again.select_one("#checkout-total").text == "$38.97"
    assert again.select_one('input[name="expected_total"]')["value"] == "38.97"
    assert orders.calls == 0 and store.stock(1) == 5 and quantities(client) == {1: 3}
    json_answer = pay_json(client, expected_total="12.99")
    assert json_answer.status_code == 409 and json_answer.get_json()["total"] == "38.97"


def test_an_expected_total_that_is_not_an_amount_is_a_field_error(client: FlaskClient) -> None:
    fill(client, {1: 1})
    response = pay_json(client, expected_total="lots")
    assert response.status_code == 422 and "expected_total" in response.get_json()["fields"]


def test_a_silent_order_service_answers_202_pending_until_the_order_is_found(
    app: Flask, client: FlaskClient, store: FakeStore, orders: FakeOrders
) -> None:
    fill(client, {1: 2})
    orders.silent, orders.works_when_silent = True, True
    response = pay_json(client, "pending-key-1")
    assert response.status_code == 202 and response.get_json()["status"] == "pending"
    assert response.headers["Retry-After"] == "2"
    assert pay_json(client, "pending-key-1").status_code == 202
    assert quantities(client) == {1: 2}
    orders.silent = False
    assert reconciler(app).sweep() == 1
    done = pay_json(client, "pending-key-1")
    assert done.status_code == 201 and done.get_json()["order_number"] == "ORD-00001"
    assert quantities(client) == {} and len(orders.orders) == 1


def test_a_shopper_told_pending_by_form_sees_a_page_that_refreshes_and_then_the_confirmation(
    app: Flask, client: FlaskClient, orders: FakeOrders
) -> None:
    fill(client, {1: 1})
    orders.silent, orders.works_when_silent = True, True
    data = {**VALID_CARD, "idempotency_key": "k-pending-form-1", "csrf_token": csrf_token(client)}
    response = client.post("/process_payment", data=data)
    assert response.status_code == 303
    waiting = client.get(response.headers["Location"])
    html = BeautifulSoup(waiting.get_data(as_text=True), "html.parser")
    assert waiting.status_code == 202 and html.select_one("#order-pending") is not None
    assert html.select_one('meta[http-equiv="refresh"]') is not None
    orders.silent = False
    reconciler(app).sweep()
    cart_page = page(client, "/cart")  # the shopper's next view says what became of it
    assert "ORD-00001 is confirmed" in cart_page.select_one(".flash-success").text
    assert page(client, response.headers["Location"]).select_one("#order-number").text == "ORD-00001"


def test_a_shopper_told_pending_whose_order_was_not_made_is_told_and_keeps_the_cart(
    app: Flask, client: FlaskClient, store: FakeStore, orders: FakeOrders
) -> None:
    fill(client, {1: 1})
    orders.silent = True
    assert pay_json(client, "k-pending-none-1").status_code == 202
    orders.silent = False
    with app.app_context(), get_database(app).transaction() as session:
        session.execute(update(CheckoutAttempt).values(deadline=utcnow() - timedelta(minutes=1)))
    assert reconciler(app).sweep() == 1
    cart_page = page(client, "/cart")
    assert "order service did not answer" in cart_page.select_one(".flashes .flash-error").text
    assert quantities(client) == {1: 1} and store.stock(1) == 5
    assert page(client, "/cart").select_one(".flashes .flash-error") is None  # told once


def test_adding_an_album_asks_the_store_once_and_answers_the_priced_cart(client: FlaskClient, store: FakeStore) -> None:
    fill(client, {1: 2, 2: 1})
    before = (store.batch_calls, store.single_calls)
    answer = client.post("/add_to_cart", json={"album_id": 3, "quantity": 2})
    assert answer.status_code == 200
    assert (store.batch_calls, store.single_calls) == (before[0] + 1, before[1])
    cart = answer.get_json()
    assert {item["album_id"]: item["quantity"] for item in cart["items"]} == {1: 2, 2: 1, 3: 2}
    assert cart["total"] == "65.48" and cart["count"] == 5  # 2 x 12.99 + 9.50 + 2 x 15.00


def test_the_cart_an_add_answers_is_the_cart_the_api_answers(client: FlaskClient, store: FakeStore) -> None:
    fill(client, {1: 1})
    cart = client.post("/add_to_cart", json={"album_id": 2}).get_json()
    assert {item["album_id"] for item in cart["items"]} == {1, 2}
    assert cart == client.get("/api/cart").get_json() | {"cart_id": cart["cart_id"], "message": cart["message"]}


def statements(app: Flask) -> float:
    """The SQL statements the cart app ran so far (db_client_queries_total)."""
    return sum(get_metrics(app).db_queries.labels("cart-db", outcome)._value.get() for outcome in ("ok", "error"))


def test_a_cart_page_asks_about_checkouts_only_when_the_visitor_was_told_one_is_being_confirmed(
    app: Flask, client: FlaskClient
) -> None:
    fill(client, {1: 1})
    page(client, "/cart")
    before = statements(app)
    page(client, "/cart")
    assert statements(app) - before == 1  # the cart's lines; no query for settled checkouts


def test_the_checkout_page_prices_the_cart_once(client: FlaskClient, store: FakeStore) -> None:
    fill(client, {1: 1, 2: 1, 3: 1})
    before = store.batch_calls
    page(client, "/checkout")
    assert store.batch_calls == before + 1


@pytest.mark.parametrize("total", [7.465904707904753e128, "3820301237929123038156966936002800.35", "1e-30", "NaN"])
def test_an_expected_total_beyond_any_cart_is_a_field_error_not_a_crash(client: FlaskClient, total: Any) -> None:
    fill(client, {1: 1})
    response = pay_json(client, expected_total=total)
    assert response.status_code == 422 and "expected_total" in response.get_json()["fields"]


def test_a_rate_limited_answer_carries_the_limits_headers_and_other_answers_make_no_limiter_state(
    data_dir: Path, store: FakeStore, orders: FakeOrders, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(cart_settings(data_dir, PAYMENT_RATE_LIMIT="5 per minute"), store, orders)
    client = app.test_client()
    fill(client, {1: 1})
    made: list[object] = []
    real = flask_limiter_extension.LimiterContext
    monkeypatch.setattr(flask_limiter_extension, "LimiterContext", lambda: made.append(1) or real())
    assert client.get("/api/cart").status_code == 200 and client.get("/healthz").status_code == 200
    assert made == []  # neither view checks a limit
    paid = pay_json(client)
    assert paid.status_code == 201 and made == [1]
    assert paid.headers["X-RateLimit-Limit"] == "5" and paid.headers["X-RateLimit-Remaining"] == "4"
    get_database(app).dispose()
