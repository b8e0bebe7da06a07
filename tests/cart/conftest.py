"""Cart fixtures: the app from create_app on a fresh SQLite database, with fake store and orders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from musicstore.cart import create_app, prepare
from musicstore.cart.checkout import Checkout
from musicstore.cart.context import Clients
from musicstore.cart.reconcile import Reconciler
from musicstore.cart.settings import CartSettings
from musicstore.common.db import Database, get_database
from tests.cart.fakes import FakeOrders, FakeStore

STORE_URL = "http://store.test"
CART_URL = "http://cart.test"
VALID_CARD = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "card_number": "4242 4242 4242 4242",
    "expiry": "12/39",
    "cvv": "123",
}


def cart_settings(data_dir: Path, **overrides: Any) -> CartSettings:
    """Settings for a test cart."""
    values: dict[str, Any] = dict(
        DATA_DIR=data_dir,
        SECRET_KEY="test-secret",
        ADMIN_PASSWORD="test-admin",
        SERVICE_TOKEN="test-token",
        STORE_SERVICE_URL=STORE_URL,
        CART_SERVICE_URL=CART_URL,
        ORDER_SERVICE_URL="http://orders.test",
        RECONCILE_INTERVAL=0,  # tests settle checkouts themselves, with Reconciler.sweep
    )
    values.update(overrides)
    return CartSettings(**values)


@pytest.fixture()
def store() -> FakeStore:
    """A fake store with three albums."""
    fake = FakeStore()
    fake.add(1, title="Blue Train", price="12.99", stock=5)
    fake.add(2, title="Kind of Blue", price="9.50", stock=2)
    fake.add(3, title="Giant Steps", price="15.00", stock=20)
    return fake


@pytest.fixture()
def orders() -> FakeOrders:
    """A fake order service."""
    return FakeOrders()


def make_app(settings: CartSettings, store: FakeStore, orders: FakeOrders, **config: Any) -> Flask:
    """A migrated cart app whose clients are the fakes."""
    prepare(settings)
    app = create_app(settings, TESTING=True, **config)
    app.extensions["cart_clients"] = Clients(store=store, orders=orders)  # type: ignore[arg-type]
    return app


@pytest.fixture()
def app(data_dir: Path, store: FakeStore, orders: FakeOrders) -> Iterator[Flask]:
    """The cart app on a fresh database."""
    app = make_app(cart_settings(data_dir), store, orders)
    yield app
    get_database(app).dispose()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    """A test client (one visitor, with cookies)."""
    return app.test_client()


def cart_json(client: FlaskClient) -> dict[str, Any]:
    """The visitor's cart from GET /api/cart."""
    response = client.get("/api/cart")
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def quantities(client: FlaskClient) -> dict[int, int]:
    """The visitor's cart as album id -> quantity."""
    return {item["album_id"]: item["quantity"] for item in cart_json(client)["items"]}


def page(client: FlaskClient, path: str) -> BeautifulSoup:
    """A page of the cart, parsed."""
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def csrf_token(client: FlaskClient) -> str:
    """The CSRF token the cart's pages carry in their meta tag."""
    meta = page(client, "/cart").select_one('meta[name="csrf-token"]')
    assert meta is not None
    return str(meta["content"])


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
    return Checkout(reconciler=Reconciler(sessions, store, orders))  # type: ignore[arg-type]
