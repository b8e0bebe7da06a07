"""The three services really running (gunicorn on free ports), shared by every end-to-end test.

The store runs on the embedded PostgreSQL, orders and cart on SQLite, all in production mode.
Each test makes its own albums (unique titles) and its own visitors, so tests do not share state.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

import musicstore.cart
import musicstore.orders
import musicstore.store
from musicstore.cart.settings import CartSettings
from musicstore.common.embedded_pg import EmbeddedPostgres
from musicstore.common.migrate import upgrade
from musicstore.orders.settings import OrderSettings
from tests.conftest import new_database
from tests.support.live import LiveService, stack_layout, three_services

ADMIN_PASSWORD = "e2e-admin-password"
SERVICE_TOKEN = "e2e-service-token"
SERVICE = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
ADMIN = {"Authorization": "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()}
GOOD_CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvv": "123"}
DECLINED_CARD = {**GOOD_CARD, "card_number": "4000 0000 0000 0002"}
PAYMENT_LATENCY_MS = 300  # long enough that two submits of one checkout overlap


@dataclass
class Stack:
    """The running store, orders and cart, and helpers to look at them from outside."""

    store: LiveService
    orders: LiveService
    cart: LiveService
    logs: Path

    def add_album(self, *, price: str, stock: int, title: str = "") -> dict[str, Any]:
        """A new album in the store (through its admin API), with a unique title."""
        body = {
            "title": title or f"E2E {uuid.uuid4().hex[:10]}",
            "artist": "The Testers",
            "genre": "Test",
            "year": 2024,
            "price": price,
            "stock": stock,
        }
        response = requests.post(f"{self.store.url}/api/albums", json=body, headers=ADMIN, timeout=10)
        assert response.status_code == 201, response.text
        album: dict[str, Any] = response.json()
        return album

    def stock(self, album_id: int) -> int:
        """An album's stock in the store now (read with credentials: an anonymous read may be a second old)."""
        answer = requests.get(f"{self.store.url}/api/album/{album_id}", headers=ADMIN, timeout=5)
        stock: int = answer.json()["stock"]
        return stock

    def order(self, order_id: int) -> dict[str, Any]:
        """One order as the order service has it."""
        response = requests.get(f"{self.orders.url}/api/orders/{order_id}", headers=SERVICE, timeout=5)
        assert response.status_code == 200, response.text
        order: dict[str, Any] = response.json()
        return order

    def orders_for(self, email: str) -> list[dict[str, Any]]:
        """Every order the order service has for an e-mail address."""
        response = requests.get(
            f"{self.orders.url}/api/orders",
            params={"customer_email": email, "per_page": 100},
            headers=SERVICE,
            timeout=5,
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


class Shopper:
    """A JSON client of the cart with its own cart cookie."""

    def __init__(self, cart_url: str) -> None:
        self.url = cart_url
        self.http = requests.Session()
        self.email = f"shopper-{uuid.uuid4().hex[:8]}@example.com"

    def add(self, album_id: int, quantity: int = 1) -> requests.Response:
        """POST /add_to_cart as JSON."""
        return self.http.post(f"{self.url}/add_to_cart", json={"album_id": album_id, "quantity": quantity}, timeout=10)

    def cart(self) -> dict[str, Any]:
        """GET /api/cart."""
        response = self.http.get(f"{self.url}/api/cart", timeout=10)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def pay(self, card: dict[str, str] = GOOD_CARD, key: str = "", email: str = "") -> requests.Response:
        """POST /process_payment as JSON."""
        body = {
            "name": "E2E Shopper",
            "email": email or self.email,
            **card,
            "idempotency_key": key or str(uuid.uuid4()),
        }
        return self.http.post(f"{self.url}/process_payment", json=body, timeout=30)


@pytest.fixture(scope="session")
def stack(pg_server: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Store, orders and cart running for the whole session."""
    root = tmp_path_factory.mktemp("e2e")
    layout = stack_layout(root, admin_password=ADMIN_PASSWORD, service_token=SERVICE_TOKEN)
    data_dir, ports, env = layout.data_dir, layout.ports, layout.env
    store_url = new_database(pg_server, "e2e_store")
    upgrade(musicstore.store.MIGRATIONS, store_url)
    order_db, cart_db = data_dir / "orders.db", data_dir / "cart.db"
    musicstore.orders.prepare(OrderSettings(ORDER_DB_PATH=order_db, DATA_DIR=data_dir))
    musicstore.cart.prepare(CartSettings(CART_DB_PATH=cart_db, DATA_DIR=data_dir))
    envs = {
        "store": {**env, "DATABASE_URL": store_url},
        "orders": {**env, "ORDER_DB_PATH": str(order_db)},
        "cart": {
            **env,
            "CART_DB_PATH": str(cart_db),
            "PAYMENT_LATENCY_MS": str(PAYMENT_LATENCY_MS),
            "HTTP_TIMEOUT": "2",
        },
    }
    with three_services(root, ports, envs) as services:
        yield Stack(store=services["store"], orders=services["orders"], cart=services["cart"], logs=root)


@pytest.fixture()
def shopper(stack: Stack) -> Shopper:
    """A new visitor of the cart, as a JSON client."""
    return Shopper(stack.cart.url)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every end-to-end test runs the services as processes: slow (left out of make test-fast)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.slow)
