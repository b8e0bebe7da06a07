"""Order fixtures: the app from create_app on SQLite and on PostgreSQL, and order factories."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select, text

from musicstore.common.db import get_database
from musicstore.common.embedded_pg import EmbeddedPostgres
from musicstore.common.migrate import upgrade
from musicstore.orders import MIGRATIONS, create_app, prepare
from musicstore.orders.models import Order
from musicstore.orders.schemas import OrderIn
from musicstore.orders.service import new_order
from musicstore.orders.settings import OrderSettings
from tests.conftest import new_database

ADMIN_PASSWORD = "test-admin-pass"
SERVICE_TOKEN = "test-service-token"
PUBLIC_URL = "http://orders.test"
SERVICE = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
_keys = itertools.count(1)


def basic(user: str = "admin", password: str = ADMIN_PASSWORD) -> dict[str, str]:
    """An HTTP Basic header."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


ADMIN = basic()


@pytest.fixture(scope="session")
def orders_pg_url(pg_server: EmbeddedPostgres) -> str:
    """A migrated orders database on the test PostgreSQL server, for the run."""
    url = new_database(pg_server, "orders_test")
    upgrade(MIGRATIONS, url)
    return url


def empty_pg(url: str) -> str:
    """The PostgreSQL orders database with every order removed and ids back at 1."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE order_lines, orders RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


def order_settings(data_dir: Path, *, database_url: str = "", **overrides: Any) -> OrderSettings:
    """Settings for a test order service (SQLite in data_dir unless a PostgreSQL URL is given)."""
    values: dict[str, Any] = dict(
        DATA_DIR=data_dir,
        ORDER_DATABASE_URL=database_url,
        SECRET_KEY="test-secret",
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        SERVICE_TOKEN=SERVICE_TOKEN,
        ORDER_SERVICE_URL=PUBLIC_URL,
        STORE_SERVICE_URL="http://store.test",
        CART_SERVICE_URL="http://cart.test",
    )
    values.update(overrides)
    return OrderSettings(**values)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_settings(request: pytest.FixtureRequest, data_dir: Path) -> OrderSettings:
    """Migrated, empty order settings on each backend in turn."""
    if request.param == "postgresql":
        url = empty_pg(request.getfixturevalue("orders_pg_url"))
        return order_settings(data_dir, database_url=url)
    settings = order_settings(data_dir)
    prepare(settings)
    return settings


@pytest.fixture()
def app(backend_settings: OrderSettings) -> Iterator[Flask]:
    """The order app on an empty database (CSRF on, as in production)."""
    app = create_app(backend_settings, TESTING=True)
    yield app
    get_database(app).dispose()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    """A test client of the order service."""
    return app.test_client()


def line(
    album_id: int = 1,
    *,
    title: str = "Kind of Blue",
    artist: str = "Miles Davis",
    unit_price: str = "12.99",
    quantity: int = 1,
) -> dict[str, Any]:
    """One order line as the cart sends it."""
    return {"album_id": album_id, "title": title, "artist": artist, "unit_price": unit_price, "quantity": quantity}


def order_body(
    *,
    customer_name: str = "Ada Lovelace",
    customer_email: str = "ada@example.com",
    card_brand: str = "Visa",
    card_last4: str = "4242",
    items: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A valid body for POST /api/orders."""
    return {
        "customer_name": customer_name,
        "customer_email": customer_email,
        "card_brand": card_brand,
        "card_last4": card_last4,
        "items": items if items is not None else [line()],
        **extra,
    }


def new_key() -> str:
    """A fresh idempotency key."""
    return f"test-key-{next(_keys)}"


def post_order(
    client: FlaskClient,
    body: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """POST an order through the API and return the response."""
    return client.post(
        "/api/orders", json=body or order_body(), headers={**(headers or SERVICE), "Idempotency-Key": key or new_key()}
    )


def insert_order(
    app: Flask,
    *,
    status: str = "pending",
    created_at: datetime | None = None,
    customer_email: str = "ada@example.com",
    items: list[dict[str, Any]] | None = None,
) -> int:
    """Put one order straight into the database (any status and time) and return its id."""
    data = OrderIn.model_validate(order_body(customer_email=customer_email, items=items))
    with app.app_context(), get_database(app).transaction() as session:
        order = new_order(data, key=new_key())
        order.status = status
        if created_at is not None:
            order.created_at = order.updated_at = created_at
        session.add(order)
        session.flush()
        return order.id


def stored_order(app: Flask, order_id: int) -> Order | None:
    """An order as the database has it now."""
    with app.app_context():
        return get_database(app).session.get(Order, order_id)


def count_orders(app: Flask) -> int:
    """How many orders the database holds."""
    with app.app_context():
        return get_database(app).session.scalar(select(func.count()).select_from(Order)) or 0


def soup(response: Any) -> BeautifulSoup:
    """A response's HTML, parsed."""
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def login(client: FlaskClient) -> None:
    """Log in as admin through the real form, CSRF token included."""
    page = soup(client.get("/login"))
    token = page.select_one("input[name=csrf_token]")["value"]  # type: ignore[index]
    response = client.post("/login", data={"csrf_token": token, "username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
