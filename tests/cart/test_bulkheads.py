"""Bulkheads: checkouts stuck on a stalled order service tie up only their own bound of threads."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from musicstore.common.bulkhead import Bulkhead, Busy
from musicstore.common.db import get_database
from tests.cart.conftest import VALID_CARD, cart_settings, make_app, quantities
from tests.cart.fakes import FakeOrders, FakeStore, HeldOrders


def test_a_bulkhead_refuses_one_holder_too_many_at_once_and_frees_its_slot_after() -> None:
    heads = Bulkhead("orders", 2, "busy")
    with heads.slot(), heads.slot():
        with pytest.raises(Busy) as refused, heads.slot():
            pass
        assert refused.value.status == 503
    with heads.slot(), heads.slot():  # both slots came back
        pass


@pytest.fixture()
def held() -> HeldOrders:
    return HeldOrders()


@pytest.fixture()
def stalled_app(data_dir: Path, store: FakeStore, held: HeldOrders) -> Any:
    app = make_app(cart_settings(data_dir, CHECKOUT_CONCURRENCY=2), store, held)
    yield app
    held.let_go.set()
    get_database(app).dispose()


def test_checkouts_beyond_the_bound_fail_fast_while_the_cart_pages_keep_answering(
    stalled_app: Flask, held: HeldOrders
) -> None:
    shoppers = [stalled_app.test_client() for _ in range(3)]
    for shopper in shoppers:
        shopper.post("/add_to_cart", json={"album_id": 3, "quantity": 1}).close()
    answers: list[int] = []

    def pay(shopper: Any) -> None:
        response = shopper.post("/process_payment", json={**VALID_CARD, "idempotency_key": str(uuid.uuid4())})
        answers.append(response.status_code)

    stuck = [threading.Thread(target=pay, args=(shopper,)) for shopper in shoppers[:2]]
    for thread in stuck:
        thread.start()
    assert held.entered.wait(10)
    started = time.monotonic()
    third = shoppers[2].post("/process_payment", json={**VALID_CARD, "idempotency_key": str(uuid.uuid4())})
    assert third.status_code == 503 and third.headers["Retry-After"] == "1"
    assert "cart has been kept" in third.get_json()["error"]
    assert shoppers[2].post("/add_to_cart", json={"album_id": 1}).status_code == 200
    assert shoppers[2].get("/cart").status_code == 200
    assert time.monotonic() - started < 1.0  # none of it waited on the stalled checkouts
    assert quantities(shoppers[2]) == {3: 1, 1: 1}
    held.let_go.set()
    for thread in stuck:
        thread.join(10)
    assert sorted(answers) == [201, 201]


def test_a_bulkhead_lets_a_request_wait_briefly_for_a_slot_that_frees_under_ordinary_load() -> None:
    heads = Bulkhead("store", 1, "busy", wait=5.0)
    release, entered = threading.Event(), threading.Event()

    def holder() -> None:
        with heads.slot():
            entered.set()
            release.wait(10)

    held = threading.Thread(target=holder)
    held.start()
    assert entered.wait(10)
    release.set()  # the holder finishes (a normal, fast request) while the next one waits
    with heads.slot():  # gets the slot instead of a 503
        pass
    held.join(10)


def test_a_bulkhead_refuses_after_its_bounded_wait_when_no_slot_frees() -> None:
    heads = Bulkhead("orders", 1, "busy", wait=0.2)
    with heads.slot():
        started = time.monotonic()
        with pytest.raises(Busy), heads.slot():
            pass
        assert 0.15 < time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    ("freed_at", "refused_at"),
    [
        (0.0, 10.2),  # nothing freed lately: refused after its wait, as a stalled downstream's
        (10.5, 10.7),  # a slot freed 0.5 s after it came: it waits a wait longer
        (11.9, 12.0),  # slots still freeing near the end: never past max_wait
    ],
)
def test_a_waiting_request_is_refused_once_no_slot_has_been_freed_for_the_wait_and_never_after_max_wait(
    freed_at: float, refused_at: float
) -> None:
    heads = Bulkhead("store", 1, "busy", wait=0.2, max_wait=2.0)
    assert heads.refused_at(10.0, freed_at) == pytest.approx(refused_at)


def test_without_max_wait_a_request_waits_its_wait_however_often_slots_free() -> None:
    assert Bulkhead("store", 1, "busy", wait=0.2).refused_at(10.0, 10.15) == pytest.approx(10.2)


def test_a_request_keeps_waiting_past_its_wait_while_the_holders_keep_finishing() -> None:
    heads = Bulkhead("store", 1, "busy", wait=0.2, max_wait=10.0)
    busy, done = threading.Event(), threading.Event()

    def one_holder_after_another() -> None:  # a busy downstream: the slot is freed every 50 ms and taken again
        for _ in range(12):
            with heads.slot():
                busy.set()
                done.wait(0.05)

    holders = threading.Thread(target=one_holder_after_another)
    holders.start()
    try:
        assert busy.wait(10)
        with heads.slot():  # served, not refused after 0.2 s: the slot keeps being freed meanwhile
            pass
    finally:
        done.set()
        holders.join(10)


def test_a_cart_page_waits_a_moment_for_a_store_slot_that_frees_instead_of_showing_no_prices(
    data_dir: Path, store: FakeStore, orders: FakeOrders
) -> None:
    app = make_app(cart_settings(data_dir, STORE_CONCURRENCY=1, STORE_BULKHEAD_WAIT=2.0), store, orders)
    try:
        client = app.test_client()
        client.post("/add_to_cart", json={"album_id": 1})
        slots = app.extensions["bulkheads"]["store"]
        entered, release = threading.Event(), threading.Event()

        def hold() -> None:
            with slots.slot():  # another page's store call, under way
                entered.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        assert entered.wait(10)
        threading.Timer(0.05, release.set).start()  # that call ends while this page waits for the slot
        page = client.get("/cart").get_data(as_text=True)
        holder.join(10)
        assert "$12.99" in page and "can't reach the store" not in page.lower()
    finally:
        release.set()
        get_database(app).dispose()
