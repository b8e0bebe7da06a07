"""The checkout sequence at unit level: a real cart database, fake store and order service."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from musicstore.cart import prepare
from musicstore.cart.checkout import Checkout, CheckoutRefused, reservation_id_for
from musicstore.cart.items import cart_lines, lock_cart, set_quantity
from musicstore.cart.payment import Card, PaymentForm
from musicstore.common.db import Database
from tests.cart.conftest import cart_settings
from tests.cart.fakes import FakeOrders, FakeStore

CART = "cart-aaaaaaaaaaaaaaaaaaaa"
GOOD_CARD = PaymentForm(name="Ada", email="ada@example.com", card=Card("4242424242424242", 12, 2039))
DECLINED_CARD = PaymentForm(name="Ada", email="ada@example.com", card=Card("4000000000000002", 12, 2039))


@pytest.fixture()
def sessions(data_dir: Path) -> Iterator[sessionmaker[Session]]:
    """Sessions on a migrated, empty cart database."""
    settings = cart_settings(data_dir)
    prepare(settings)
    database = Database(settings.database_url())
    yield database.sessionmaker
    database.dispose()


@pytest.fixture()
def checkout(sessions: sessionmaker[Session], store: FakeStore, orders: FakeOrders) -> Checkout:
    """The checkout with the fakes."""
    return Checkout(sessions=sessions, store=store, orders=orders)  # type: ignore[arg-type]


def fill(sessions: sessionmaker[Session], lines: dict[int, int], cart_id: str = CART) -> None:
    with sessions.begin() as session:
        lock_cart(session, cart_id)
        for album_id, quantity in lines.items():
            set_quantity(session, cart_id, album_id, quantity)


def lines_of(sessions: sessionmaker[Session], cart_id: str = CART) -> dict[int, int]:
    with sessions() as session:
        return cart_lines(session, cart_id)


def test_a_checkout_reserves_stock_makes_the_order_and_empties_the_ordered_lines(
    checkout: Checkout, sessions: sessionmaker[Session], store: FakeStore, orders: FakeOrders
) -> None:
    fill(sessions, {1: 2, 3: 1})
    outcome = checkout.run(CART, "key-00000001", GOOD_CARD)
    assert outcome.ok and outcome.status == 201
    assert outcome.total == Decimal("40.98") and outcome.order_number == "ORD-00001"
    assert (store.stock(1), store.stock(3)) == (3, 19)
    order = orders.orders["key-00000001"]
    assert order["card_brand"] == "visa" and order["card_last4"] == "4242"
    assert "4242424242424242" not in str(order)
    assert [(i["album_id"], i["unit_price"], i["quantity"]) for i in order["items"]] == [
        (1, "12.99", 2),
        (3, "15.00", 1),
    ]
    assert lines_of(sessions) == {}


def test_the_reservation_id_is_derived_from_the_idempotency_key(
    checkout: Checkout, sessions: sessionmaker[Session], store: FakeStore
) -> None:
    fill(sessions, {1: 1})
    checkout.run(CART, "key-00000001", GOOD_CARD)
    assert list(store.reservations) == [reservation_id_for("key-00000001")]
    assert reservation_id_for("key-00000001") != reservation_id_for("key-00000002")


def test_a_declined_card_releases_the_reservation_and_keeps_the_cart(
    sessions: sessionmaker[Session], store: FakeStore, orders: FakeOrders
) -> None:
    declines: list[int] = []
    checkout = Checkout(
        sessions=sessions,
        store=store,
        orders=orders,  # type: ignore[arg-type]
        on_decline=lambda: declines.append(1),
    )
    fill(sessions, {1: 2})
    outcome = checkout.run(CART, "key-00000001", DECLINED_CARD)
    assert not outcome.ok and outcome.status == 402 and "declined" in (outcome.error or "")
    assert store.stock(1) == 5 and reservation_id_for("key-00000001") in store.released
    assert orders.orders == {} and declines == [1]
    assert lines_of(sessions) == {1: 2}


def test_an_order_service_failure_releases_the_reservation_and_keeps_the_cart(
    checkout: Checkout, sessions: sessionmaker[Session], store: FakeStore, orders: FakeOrders
) -> None:
    orders.down = True
    fill(sessions, {1: 2, 2: 1})
    outcome = checkout.run(CART, "key-00000001", GOOD_CARD)
    assert outcome.status == 503 and "order service" in (outcome.error or "")
    assert (store.stock(1), store.stock(2)) == (5, 2)
    assert reservation_id_for("key-00000001") in store.released
    assert lines_of(sessions) == {1: 2, 2: 1}


def test_a_store_that_is_down_fails_clearly_and_keeps_the_cart(
    checkout: Checkout, sessions: sessionmaker[Session], store: FakeStore, orders: FakeOrders
) -> None:
    fill(sessions, {1: 1})
    store.down = True
    outcome = checkout.run(CART, "key-00000001", GOOD_CARD)
    assert outcome.status == 503 and "store" in (outcome.error or "")
    assert orders.orders == {} and lines_of(sessions) == {1: 1}


def test_not_enough_stock_names_the_album_and_reserves_nothing(
    checkout: Checkout, sessions: sessionmaker[Session], store: FakeStore, orders: FakeOrders
) -> None:
    fill(sessions, {1: 1, 2: 2})
    store.add(2, title="Kind of Blue", price="9.50", stock=1)
    outcome = checkout.run(CART, "key-00000001", GOOD_CARD)
    assert outcome.status == 409 and "only 1 of “Kind of Blue” left" in (outcome.error or "")
    assert store.stock(1) == 5 and orders.orders == {} and lines_of(sessions) == {1: 1, 2: 2}


def test_only_the_ordered_lines_leave_the_cart(
    sessions: sessionmaker[Session], store: FakeStore, orders: FakeOrders
) -> None:
    fill(sessions, {1: 2})

    class AddsDuringCheckout(FakeOrders):
        def create_order(self, idempotency_key: str, order: dict) -> object:  # type: ignore[override]
            fill(sessions, {1: 3, 3: 1})  # another tab: one more copy of 1, and a new album
            return super().create_order(idempotency_key, order)

    checkout = Checkout(sessions=sessions, store=store, orders=AddsDuringCheckout())  # type: ignore[arg-type]
    assert checkout.run(CART, "key-00000001", GOOD_CARD).ok
    assert lines_of(sessions) == {1: 1, 3: 1}


def test_repeating_a_checkout_returns_the_same_order_and_makes_no_second(
    checkout: Checkout, sessions: sessionmaker[Session], store: FakeStore, orders: FakeOrders
) -> None:
    fill(sessions, {1: 2})
    first = checkout.run(CART, "key-00000001", GOOD_CARD)
    fill(sessions, {1: 1})  # the cart changed since; the repeat must not order it
    again = checkout.run(CART, "key-00000001", GOOD_CARD)
    assert again.repeated and again.status == 200
    assert (again.order_id, again.order_number, again.total) == (first.order_id, first.order_number, first.total)
    assert len(orders.orders) == 1 and store.stock(1) == 3 and lines_of(sessions) == {1: 1}


def test_repeating_a_declined_checkout_declines_again_without_charging(
    checkout: Checkout, sessions: sessionmaker[Session], store: FakeStore
) -> None:
    fill(sessions, {1: 1})
    first = checkout.run(CART, "key-00000001", DECLINED_CARD)
    again = checkout.run(CART, "key-00000001", GOOD_CARD)
    assert again.repeated and (again.status, again.error) == (first.status, first.error)
    assert store.stock(1) == 5


def test_two_simultaneous_submits_of_one_checkout_make_one_order(
    sessions: sessionmaker[Session], store: FakeStore, orders: FakeOrders
) -> None:
    checkout = Checkout(sessions=sessions, store=store, orders=orders, latency_ms=200)  # type: ignore[arg-type]
    fill(sessions, {1: 1})
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(checkout.run(CART, "key-00000001", GOOD_CARD))) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status for r in results) == [200, 201]
    assert {r.order_number for r in results} == {"ORD-00001"}
    assert len(orders.orders) == 1 and store.stock(1) == 4


def test_an_empty_cart_cannot_check_out(checkout: Checkout) -> None:
    with pytest.raises(CheckoutRefused) as caught:
        checkout.run(CART, "key-00000001", GOOD_CARD)
    assert caught.value.status == 400


def test_a_key_of_another_cart_is_refused(checkout: Checkout, sessions: sessionmaker[Session]) -> None:
    fill(sessions, {1: 1})
    fill(sessions, {1: 1}, cart_id="other-cart-bbbbbbbbbbbb")
    checkout.run(CART, "key-00000001", GOOD_CARD)
    with pytest.raises(CheckoutRefused) as caught:
        checkout.run("other-cart-bbbbbbbbbbbb", "key-00000001", GOOD_CARD)
    assert caught.value.status == 409
