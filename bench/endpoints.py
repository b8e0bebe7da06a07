"""The pages and APIs the HTTP benchmark and its profile measure, with the data they need put in beforehand.

All through the services' own HTTP APIs on a running local stack (bench/stack.py): a cart of three lines
filled through the cart's JSON API, orders made through the order API, stock through the admin's restock.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests
from bench.stack import Stack
from tenacity import retry, stop_after_delay, wait_fixed

CARD = {"name": "Bench", "email": "bench@example.com", "card_number": "4242424242424242", "expiry": "12/39"}
CARD["cvv"] = "123"
ORDERS = 100
CART_LINES = 3


@dataclass(frozen=True)
class Endpoint:
    """One measured request: its name in the tables, URL, headers, the service answering it, #16's targets."""

    name: str
    url: str
    service: str
    share_target: float | None  # of the hello-world's requests per second at 16 connections (None: a reference)
    headers: dict[str, str] = field(default_factory=dict)
    p99_target_ms: float | None = 100.0


def admin_auth(stack: Stack) -> tuple[str, str]:
    """The admin's credentials of this stack."""
    return ("admin", stack.secrets()["ADMIN_PASSWORD"])


def page_host(stack: Stack, service: str) -> dict[str, str]:
    """The Host header of a service's public name: pages asked for as 127.0.0.1 redirect to localhost."""
    return {"Host": f"localhost:{stack.url(service).rsplit(':', 1)[1]}"}


def albums(stack: Stack) -> list[dict[str, Any]]:
    """The first albums of the catalog (ordered by title)."""
    answer = requests.get(f"{stack.url('store')}/api/albums?per_page=100", timeout=30)
    answer.raise_for_status()
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def fill_cart(stack: Stack, album_ids: list[int]) -> str:
    """A new cart with one copy of each album, through the cart's JSON API; its id."""
    cart_id = secrets.token_urlsafe(24)
    for album_id in album_ids:
        answer = requests.post(f"{stack.url('cart')}/add_to_cart", json={"album_id": album_id, "quantity": 1},
                               headers={"X-Cart-Id": cart_id}, timeout=30)  # fmt: skip
        answer.raise_for_status()
    return cart_id


def make_orders(stack: Stack, count: int, catalog: list[dict[str, Any]]) -> None:
    """`count` orders of two lines each, made through the order API with the admin's credentials."""
    for n in range(count):
        lines = [_line(catalog[n % len(catalog)]), _line(catalog[(n + 1) % len(catalog)])]
        body = {"customer_name": f"Bench Shopper {n}", "customer_email": f"shopper{n}@example.com",
                "card_last4": "4242", "card_brand": "Visa", "items": lines}  # fmt: skip
        answer = requests.post(f"{stack.url('orders')}/api/orders", json=body, auth=admin_auth(stack),
                               headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=30)  # fmt: skip
        assert answer.status_code == 201, answer.text


def _line(album: dict[str, Any]) -> dict[str, Any]:
    return {"album_id": album["id"], "title": album["title"], "artist": album["artist"],
            "unit_price": album["price"], "quantity": 1}  # fmt: skip


def prepare(stack: Stack) -> list[Endpoint]:
    """Put in the data the measured requests need, check each answers 200, and return them."""
    catalog = albums(stack)
    make_orders(stack, ORDERS, catalog)
    cart_id = fill_cart(stack, [album["id"] for album in catalog[:CART_LINES]])
    user, password = admin_auth(stack)
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    endpoints = [
        # No target: what any answer of a service costs (request id, metrics, headers, access log, gunicorn) with
        # no work of its own, the floor under every row below.
        Endpoint("`GET /healthz` (reference: no work but what every answer does)", f"{stack.url('store')}/healthz",
                 "store", None, p99_target_ms=None),
        Endpoint("shop page `/`", f"{stack.url('store')}/", "store", 0.40, page_host(stack, "store")),
        Endpoint("`GET /api/album/{id}`", f"{stack.url('store')}/api/album/{catalog[0]['id']}", "store", 0.60),
        Endpoint(f"cart page, {CART_LINES} lines", f"{stack.url('cart')}/cart", "cart", 0.20,
                 {**page_host(stack, "cart"), "X-Cart-Id": cart_id}),
        Endpoint(f"`GET /api/orders` (admin, {ORDERS} orders)", f"{stack.url('orders')}/api/orders", "orders", 0.30,
                 {"Authorization": f"Basic {basic}"}),
    ]  # fmt: skip
    for endpoint in endpoints:
        answer = requests.get(endpoint.url, headers=endpoint.headers, allow_redirects=False, timeout=30)
        assert answer.status_code == 200, f"{endpoint.name}: {answer.status_code} {answer.text[:200]}"
    cart = requests.get(f"{stack.url('cart')}/api/cart", headers={"X-Cart-Id": cart_id}, timeout=30).json()
    assert len(cart["items"]) == CART_LINES, cart
    listed = requests.get(f"{stack.url('orders')}/api/orders", auth=(user, password), timeout=30).json()
    assert listed["total"] == ORDERS, listed["total"]
    return endpoints


def restock(stack: Stack, copies: int) -> None:
    """Give every album `copies` more copies (admin restock), so purchases and traffic never run out."""
    for album in albums(stack):
        answer = requests.post(f"{stack.url('store')}/api/album/{album['id']}/stock", json={"delta": copies},
                               auth=admin_auth(stack), timeout=30)  # fmt: skip
        answer.raise_for_status()


def purchase(http: requests.Session, stack: Stack, album_id: int) -> float:
    """One purchase through the cart's JSON API (add to a new cart, pay with a good card); its time in ms."""
    started = time.perf_counter()
    added = http.post(f"{stack.url('cart')}/add_to_cart", json={"album_id": album_id, "quantity": 1}, timeout=30)
    assert added.status_code == 200, added.text
    cart = {"X-Cart-Id": added.json()["cart_id"]}
    paid = http.post(f"{stack.url('cart')}/process_payment", json={**CARD, "idempotency_key": str(uuid.uuid4())},
                     headers=cart, timeout=30)  # fmt: skip
    elapsed = (time.perf_counter() - started) * 1000
    assert paid.status_code == 201 and paid.json()["order_id"], paid.text
    http.cookies.clear()  # the next purchase starts a new cart (the payment limit is per cart)
    return elapsed


def refusals(stack: Stack | None) -> int:
    """Requests the stack's bulkheads refused so far: each one is a warning in the log `musicstore up` writes.

    The cart page answers 200 with a "can't reach the store" panel then, which wrk counts as a success.
    """
    if stack is None:
        return 0
    return len(re.findall(rb"bulkhead \w+ full", (stack.root / "up.log").read_bytes()))


@retry(stop=stop_after_delay(10), wait=wait_fixed(0.05), reraise=True)
def _logged(stack: Stack, marker: str) -> None:
    assert marker.encode() in (stack.root / "up.log").read_bytes(), f"{marker} not relayed yet"


def relayed(stack: Stack | None, service: str) -> None:
    """Until the service's lines so far have reached the log `musicstore up` writes: a request with a new request
    id, whose access-log line comes after theirs on the same pipe, is found there (ten seconds at most)."""
    if stack is None:
        return
    marker = secrets.token_hex(16)
    requests.get(f"{stack.url(service)}/healthz", headers={"X-Request-ID": marker}, timeout=10)
    _logged(stack, marker)
