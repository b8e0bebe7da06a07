"""A timeout is not a "no": checkouts whose order call gave no answer, found out and settled by key."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from musicstore.cart.attempts import reservation_id_for
from musicstore.cart.checkout import Checkout
from musicstore.cart.models import COMPLETED, INTERRUPTED, PENDING, UNKNOWN, CheckoutAttempt
from musicstore.cart.reconcile import Reconciler
from musicstore.common.db import utcnow
from tests.cart.fakes import FakeOrders, FakeStore, HeldOrders
from tests.cart.test_checkout import CART, GOOD_CARD, fill, lines_of, recorded

KEY = "key-00000001"


def pass_the_deadline(sessions: sessionmaker[Session], key: str = KEY) -> None:
    """Move the attempt's deadline into the past, as if its time had run out."""
    with sessions.begin() as session:
        past = utcnow() - timedelta(minutes=1)
        session.execute(update(CheckoutAttempt).where(CheckoutAttempt.key == key).values(deadline=past))


@pytest.fixture()
def reconciler(sessions: sessionmaker[Session], store: FakeStore, orders: FakeOrders) -> Reconciler:
    return Reconciler(sessions, store, orders)  # type: ignore[arg-type]


def test_a_silent_order_service_gets_a_pending_answer_and_keeps_the_reservation_and_the_cart(
    checkout: Checkout, sessions: sessionmaker[Session], store: FakeStore, orders: FakeOrders
) -> None:
    fill(sessions, {1: 2})
    orders.silent = True
    outcome = checkout.run(CART, KEY, GOOD_CARD)
    assert outcome.status == 202 and outcome.pending and outcome.as_json()["status"] == "pending"
    assert recorded(sessions).status == UNKNOWN and recorded(sessions).shopper_waiting
    assert store.stock(1) == 3 and store.released == set()  # nothing given back before it is known
    assert lines_of(sessions) == {1: 2}
    assert checkout.run(CART, KEY, GOOD_CARD).status == 202  # every submit: the state now
    assert orders.calls == 1  # a repeat asks, it never orders again


def test_an_order_made_during_the_silence_is_found_by_the_sweep_and_the_checkout_completes(
    checkout: Checkout, reconciler: Reconciler, sessions: sessionmaker[Session], store: FakeStore, orders: FakeOrders
) -> None:
    fill(sessions, {1: 2, 2: 1})
    orders.silent, orders.works_when_silent = True, True
    assert checkout.run(CART, KEY, GOOD_CARD).status == 202
    assert reconciler.sweep() == 0  # still silent: nothing known, nothing changed
    orders.silent = False
    assert reconciler.sweep() == 1
    assert recorded(sessions).status == COMPLETED and lines_of(sessions) == {}
    assert store.stock(1) == 3 and store.released == set() and len(orders.orders) == 1
    again = checkout.run(CART, KEY, GOOD_CARD)
    assert again.status == 201 and again.order_number == "ORD-00001"


def test_no_order_after_the_deadline_releases_the_stock_and_the_same_key_asks_first_then_reserves_again(
    checkout: Checkout, reconciler: Reconciler, sessions: sessionmaker[Session], store: FakeStore, orders: FakeOrders
) -> None:
    fill(sessions, {1: 2})
    orders.silent = True
    assert checkout.run(CART, KEY, GOOD_CARD).status == 202
    orders.silent = False
    assert reconciler.sweep() == 0  # back, no order yet, but the order service may still make it
    assert recorded(sessions).status == UNKNOWN and store.stock(1) == 3
    pass_the_deadline(sessions)
    assert reconciler.sweep() == 1
    assert recorded(sessions).status == INTERRUPTED and store.stock(1) == 5 and lines_of(sessions) == {1: 2}
    lookups = orders.lookups
    again = checkout.run(CART, KEY, GOOD_CARD)
    assert again.status == 201 and orders.lookups == lookups + 1 and len(orders.orders) == 1
    assert store.stock(1) == 3 and set(store.reservations) - store.released == {reservation_id_for(KEY, 2)}


def test_an_order_service_that_answers_an_error_is_asked_and_its_no_is_final_at_once(
    sessions: sessionmaker[Session], store: FakeStore
) -> None:
    from musicstore.common.http import DownstreamUnavailable

    class Answers503(FakeOrders):
        def create_order(self, idempotency_key: str, order: dict[str, Any]) -> Any:
            self.calls += 1
            raise DownstreamUnavailable("orders", "answered 503", 503)

    orders = Answers503()
    checkout = Checkout(reconciler=Reconciler(sessions, store, orders))  # type: ignore[arg-type]
    fill(sessions, {1: 1})
    outcome = checkout.run(CART, KEY, GOOD_CARD)
    assert outcome.status == 503 and "order service is not available" in (outcome.error or "")
    assert "cart has been kept" in (outcome.error or "") and orders.lookups == 1
    assert store.stock(1) == 5 and recorded(sessions).status == INTERRUPTED


def test_the_sweep_leaves_a_checkout_that_is_running_alone(
    reconciler: Reconciler, sessions: sessionmaker[Session], store: FakeStore
) -> None:
    orders = HeldOrders()
    checkout = Checkout(reconciler=Reconciler(sessions, store, orders))  # type: ignore[arg-type]
    fill(sessions, {1: 1})
    done: list[Any] = []
    running = threading.Thread(target=lambda: done.append(checkout.run(CART, KEY, GOOD_CARD)))
    running.start()
    assert orders.entered.wait(10)
    assert reconciler.sweep() == 0 and recorded(sessions).status == PENDING
    orders.let_go.set()
    running.join(10)
    assert done[0].status == 201


@pytest.mark.parametrize("order_was_made", [True, False])
def test_a_checkout_abandoned_by_a_killed_worker_is_settled_without_any_user_action(
    reconciler: Reconciler, sessions: sessionmaker[Session], store: FakeStore, orders: FakeOrders, order_was_made: bool
) -> None:
    fill(sessions, {1: 2})
    store.reserve(reservation_id_for(KEY), [(1, 2)])  # the worker got this far, and then died
    if order_was_made:
        orders.create_order(KEY, _body(store, 1, 2))
    with sessions.begin() as session:
        session.add(CheckoutAttempt(key=KEY, cart_id=CART, status=PENDING, deadline=utcnow()))
    pass_the_deadline(sessions)
    assert reconciler.sweep() == 1
    if order_was_made:
        assert recorded(sessions).status == COMPLETED and lines_of(sessions) == {} and store.stock(1) == 3
    else:
        assert recorded(sessions).status == INTERRUPTED and lines_of(sessions) == {1: 2} and store.stock(1) == 5


def test_a_submit_that_began_before_the_first_recorded_its_attempt_gets_that_checkouts_answer(
    checkout: Checkout, sessions: sessionmaker[Session], orders: FakeOrders
) -> None:
    fill(sessions, {1: 1})
    assert checkout.run(CART, KEY, GOOD_CARD).status == 201
    # A third click read "no attempt" before the first committed, and reaches the cart after it completed:
    late = checkout._start(CART, KEY)
    assert isinstance(late, CheckoutAttempt) and late.status == COMPLETED
    assert checkout.run(CART, KEY, GOOD_CARD).status == 201 and len(orders.orders) == 1


def test_a_total_that_changed_since_the_page_was_shown_is_refused_with_the_new_total_and_nothing_reserved(
    checkout: Checkout, sessions: sessionmaker[Session], store: FakeStore, orders: FakeOrders
) -> None:
    fill(sessions, {1: 1})  # 12.99 shown
    fill(sessions, {1: 3})  # another tab added two copies
    outcome = checkout.run(CART, KEY, GOOD_CARD, expected_total=Decimal("12.99"))
    assert outcome.status == 409 and outcome.as_json()["total"] == "38.97"
    assert store.reservations == {} and orders.calls == 0 and lines_of(sessions) == {1: 3}
    again = checkout.run(CART, KEY, GOOD_CARD, expected_total=Decimal("38.97"))
    assert again.status == 201 and again.total == Decimal("38.97")


def _body(store: FakeStore, album_id: int, quantity: int) -> dict[str, Any]:
    album = store.albums[album_id]
    line = {"album_id": album_id, "title": album.title, "artist": album.artist, "quantity": quantity}
    return {
        "customer_name": "Ada",
        "customer_email": "ada@example.com",
        "card_brand": "Visa",
        "card_last4": "4242",
        "items": [{**line, "unit_price": str(album.price)}],
    }


def test_a_release_that_failed_is_retried_by_the_sweep_without_any_user_action(
    checkout: Checkout, reconciler: Reconciler, sessions: sessionmaker[Session], store: FakeStore, orders: FakeOrders
) -> None:
    fill(sessions, {1: 2})
    orders.down, store.release_down = True, True
    assert checkout.run(CART, KEY, GOOD_CARD).status == 503
    assert recorded(sessions).release_owed and store.stock(1) == 3  # the store could not be told
    assert reconciler.sweep() == 0 and store.stock(1) == 3  # still unreachable: owed still
    store.release_down = False
    assert reconciler.sweep() == 1
    assert store.stock(1) == 5 and not recorded(sessions).release_owed and lines_of(sessions) == {1: 2}
