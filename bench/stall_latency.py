"""The cart's latency while the order service stalls: add-to-cart and the cart page, before and during.

Starts the whole local stack with `musicstore up` (temporary data directory, free ports), stalls the
order service's workers (SIGSTOP), fills the cart's checkout bulkhead with checkouts that wait on it,
and measures add-to-cart (JSON) and the cart page from several concurrent shoppers, then the same with
nothing stalled. Target (issue #14): p99 under 200 ms during the stall.
Usage: PYTHONPATH=. .venv/bin/python bench/stall_latency.py [--requests 400] [--shoppers 4]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import requests
from bench.stack import Stack
from tenacity import retry, stop_after_delay, wait_fixed

CARD = {"name": "Bench", "email": "bench@example.com", "card_number": "4242424242424242", "expiry": "12/39"}
CARD["cvv"] = "123"


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def shopper_run(cart: str, album_id: int, count: int) -> dict[str, list[float]]:
    """`count` requests, alternating add-to-cart and the cart page, timed in ms."""
    http = requests.Session()
    times: dict[str, list[float]] = {"add to cart": [], "cart page": []}
    for n in range(count):
        started = time.perf_counter()
        if n % 2 == 0:
            answer = http.post(f"{cart}/add_to_cart", json={"album_id": album_id, "quantity": 1}, timeout=30)
            if answer.status_code == 400:  # the most copies a cart holds: empty the line and go on
                http.post(f"{cart}/remove_item", json={"album_id": album_id}, timeout=30)
            name = "add to cart"
        else:
            answer = http.get(f"{cart}/cart", timeout=30)
            name = "cart page"
        times[name].append((time.perf_counter() - started) * 1000)
        assert answer.status_code in (200, 400), answer.text
    return times


def measure(stack: Stack, album_id: int, total: int, shoppers: int) -> dict[str, list[float]]:
    """Every shopper's timings, merged."""
    with ThreadPoolExecutor(shoppers) as pool:
        runs = list(pool.map(lambda _: shopper_run(stack.url("cart"), album_id, total // shoppers), range(shoppers)))
    return {name: [t for run in runs for t in run[name]] for name in ("add to cart", "cart page")}


def stuck_checkouts(stack: Stack, album_id: int, count: int) -> list[threading.Thread]:
    """`count` checkouts that will wait on the stalled order service (and some that find the bulkhead full)."""
    answers: list[int] = []

    def pay() -> None:
        http = requests.Session()
        http.post(f"{stack.url('cart')}/add_to_cart", json={"album_id": album_id}, timeout=30)
        try:
            body = {**CARD, "idempotency_key": str(uuid.uuid4())}
            answer = http.post(f"{stack.url('cart')}/process_payment", json=body, timeout=60)
            answers.append(answer.status_code)
        except requests.RequestException:
            answers.append(0)

    threads = [threading.Thread(target=pay, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def stock(stack: Stack, album_id: int) -> int:
    """The album's stock as the store says now."""
    found: int = requests.get(f"{stack.url('store')}/api/album/{album_id}", timeout=10).json()["stock"]
    return found


@retry(stop=stop_after_delay(30), wait=wait_fixed(0.05), reraise=True)
def reserved(stack: Stack, album_id: int, left: int) -> None:
    """Until the album's stock is down to `left` (30 s at most)."""
    assert stock(stack, album_id) <= left, "the checkouts have not reserved yet"


def rows_of(label: str, timings: dict[str, list[float]]) -> list[str]:
    """Table rows: p50, p99 and max per endpoint."""
    return [
        f"| {label} | {name} | {len(values)} | {statistics.median(values):.1f} | {percentile(values, 0.99):.1f} | "
        f"{max(values):.1f} |"
        for name, values in timings.items()
    ]


def main() -> None:
    """Measure and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400, help="requests per phase, over all shoppers")
    parser.add_argument("--shoppers", type=int, default=4, help="concurrent shoppers measuring")
    args = parser.parse_args()
    stack = Stack()
    rows: list[str] = []
    try:
        stack.wait_ready()
        admin = ("admin", stack.secrets()["ADMIN_PASSWORD"])
        album = {"title": "Stall bench", "artist": "Bench", "genre": "Bench", "year": 2026, "price": "1.00",
                 "stock": 100000}  # fmt: skip
        album_id = requests.post(f"{stack.url('store')}/api/albums", json=album, auth=admin, timeout=30).json()["id"]
        measure(stack, album_id, 40, args.shoppers)  # warm up
        rows += rows_of("nothing stalled", measure(stack, album_id, args.requests, args.shoppers))
        workers = stack.workers("orders")
        for worker in workers:
            worker.suspend()
        try:
            before = stock(stack, album_id)
            stuck = stuck_checkouts(stack, album_id, 6)  # the bulkhead holds 4; 2 more are refused at once
            reserved(stack, album_id, before - 4)  # the 4 have reserved their copy: they wait on the order service
            rows += rows_of("order service stalled, 4 checkouts waiting", measure(stack, album_id, args.requests,
                                                                                   args.shoppers))  # fmt: skip
        finally:
            for worker in workers:
                worker.resume()
        for thread in stuck:
            thread.join(60)
    finally:
        stack.close()
    print(f"{date.today()}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{args.shoppers} concurrent shoppers:\n")  # fmt: skip
    print("| phase | request | n | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
