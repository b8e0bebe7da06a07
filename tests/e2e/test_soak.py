"""A bounded concurrent soak: many shoppers, double submits, cart workers killed, order service and store
stalled, all at once; when things are quiet, the stock and order invariants hold."""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import requests
from tenacity import retry, retry_if_result, stop_after_delay, wait_fixed

from tests.e2e.conftest import SERVICE, Shopper, Stack

pytestmark = pytest.mark.slow

SHOPPERS = 16
CHAOS_SECONDS = 25  # how long the faults go on; the whole test stays under two minutes
SETTLE_WITHIN = 90


@dataclass
class Purchase:
    """One shopper's checkout: its key, and the last answer each submit of it got."""

    shopper: Shopper
    key: str = field(default_factory=lambda: str(uuid.uuid4()))
    answers: list[int] = field(default_factory=list)
    final: dict | None = None


def submit(purchase: Purchase) -> int:
    """One submit of the checkout; a connection cut by a killed worker counts as no answer (0)."""
    try:
        response = purchase.shopper.pay(key=purchase.key)
    except requests.RequestException:
        return 0
    purchase.answers.append(response.status_code)
    if response.status_code == 201:
        purchase.final = response.json()
    return response.status_code


def shop(stack: Stack, albums: list[dict], purchase: Purchase, rng: random.Random) -> None:
    """Fill a cart, then pay, sometimes double-clicking, until the checkout has a final answer (bounded)."""
    for album in rng.sample(albums, rng.randint(1, 2)):
        with contextlib.suppress(requests.RequestException):  # a killed worker: the shopper goes on
            purchase.shopper.add(album["id"], rng.randint(1, 2))
    deadline = time.monotonic() + CHAOS_SECONDS + SETTLE_WITHIN
    while time.monotonic() < deadline:
        if rng.random() < 0.3:  # a double click: two submits of the same key at once
            twin = threading.Thread(target=submit, args=(purchase,))
            twin.start()
            status = submit(purchase)
            twin.join(60)
        else:
            status = submit(purchase)
        if status not in (0, 202, 503):
            return
        # The shopper presses again after a moment (0.5-1.5 s: sooner than the 2 s Retry-After asks, as impatient
        # shoppers do), with the same key.
        time.sleep(rng.uniform(0.5, 1.5))


def chaos(stack: Stack, rng: random.Random, stop: threading.Event) -> list[str]:
    """Stall the order service, stall the store, kill cart workers, at random, until told to stop."""
    done: list[str] = []
    while not stop.wait(rng.uniform(1.0, 3.0)):
        fault = rng.choice(["orders", "store", "cart"])
        if fault == "cart":
            stack.cart.kill_workers()
        else:
            service = stack.orders if fault == "orders" else stack.store
            service.pause()
            stop.wait(rng.uniform(1.0, 6.0))  # the fault lasts this long
            service.resume()
        done.append(fault)
    return done


def test_a_soak_of_shoppers_double_clicks_worker_kills_and_stalls_keeps_every_invariant(stack: Stack) -> None:
    rng = random.Random(20261129)
    albums = [stack.add_album(price=f"{n + 4}.00", stock=8) for n in range(3)]
    purchases = [Purchase(Shopper(stack.cart.url)) for _ in range(SHOPPERS)]
    stop = threading.Event()
    with ThreadPoolExecutor(SHOPPERS + 1) as pool:
        faults = pool.submit(chaos, stack, random.Random(rng.random()), stop)
        shopping = [pool.submit(shop, stack, albums, p, random.Random(rng.random())) for p in purchases]
        time.sleep(CHAOS_SECONDS)  # the soak's length: faults go on for this long
        stop.set()
        kinds = faults.result(60)
        for done in shopping:
            done.result(SETTLE_WITHIN + CHAOS_SECONDS)
    assert {"orders", "store", "cart"} & set(kinds), "no fault was injected"

    quiet_within(stack, purchases)
    live = []
    for purchase in purchases:
        found = orders_of_key(stack, purchase.key)
        assert len(found) <= 1, f"key {purchase.key} has {len(found)} orders"
        if found:  # every order that exists was answered as placed
            assert purchase.final is not None and purchase.final["order_id"] == found[0]["id"]
            live.extend(found)
        else:
            assert purchase.final is None
    assert len(live) >= SHOPPERS // 2, f"only {len(live)} orders: the soak hardly shopped"
    for album in albums:
        now = stack.stock(album["id"])
        copies = sum(i["quantity"] for o in live for i in o["items"] if i["album_id"] == album["id"])
        assert now >= 0 and album["stock"] - now == copies, f"album {album['id']}: {now} left, {copies} ordered"


def quiet_within(stack: Stack, purchases: list[Purchase]) -> None:
    """Wait (bounded) until no checkout of the soak is still pending: each key's answer is final."""

    @retry(retry=retry_if_result(lambda busy: busy), wait=wait_fixed(1), stop=stop_after_delay(SETTLE_WITHIN))
    def _still_pending() -> bool:
        return any(submit(p) in (0, 202) for p in purchases if p.final is None)

    _still_pending()


def orders_of_key(stack: Stack, key: str) -> list[dict]:
    """The orders the order service has under one idempotency key."""
    response = requests.get(
        f"{stack.orders.url}/api/orders", params={"idempotency_key": key}, headers=SERVICE, timeout=10
    )
    assert response.status_code == 200, response.text
    items: list[dict] = response.json()["items"]
    return items
