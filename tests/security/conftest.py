"""Fixtures of the security tests: each service's app from its factory, CSRF on, as in production."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from musicstore import orders, store
from musicstore.common.db import get_database
from musicstore.common.embedded_pg import EmbeddedPostgres
from musicstore.common.migrate import upgrade
from tests.cart.conftest import cart_settings, make_app
from tests.cart.fakes import FakeOrders, FakeStore
from tests.conftest import new_database
from tests.orders.conftest import order_settings
from tests.store.conftest import store_settings

ADMIN_PASSWORD = "test-admin-pass"


def basic(user: str = "admin", password: str = ADMIN_PASSWORD) -> dict[str, str]:
    """An HTTP Basic header."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


ADMIN = basic()


@pytest.fixture(scope="session")
def security_store_db(pg_server: EmbeddedPostgres) -> str:
    """A migrated catalog database of the security tests, for the run."""
    url = new_database(pg_server, "security_store")
    upgrade(store.MIGRATIONS, url)
    return url


@pytest.fixture()
def store_app(security_store_db: str, data_dir: Path) -> Iterator[Flask]:
    """The store app with CSRF on."""
    app = store.create_app(store_settings(security_store_db, data_dir), TESTING=True)
    yield app
    get_database(app).dispose()


@pytest.fixture()
def orders_app(data_dir: Path) -> Iterator[Flask]:
    """The order service on a fresh SQLite database, CSRF on."""
    settings = order_settings(data_dir, ADMIN_PASSWORD=ADMIN_PASSWORD)
    orders.prepare(settings)
    app = orders.create_app(settings, TESTING=True)
    yield app
    get_database(app).dispose()


@pytest.fixture()
def cart_app(data_dir: Path) -> Iterator[Flask]:
    """The cart on a fresh SQLite database, with a fake store (one album) and fake orders."""
    fake_store = FakeStore()
    fake_store.add(1, title="Blue Train", price="12.99", stock=5)
    app = make_app(cart_settings(data_dir), fake_store, FakeOrders())
    yield app
    get_database(app).dispose()


def soup(response: TestResponse) -> BeautifulSoup:
    """A response's HTML, parsed."""
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def csrf_token_of(client: FlaskClient, path: str) -> str:
    """The CSRF token a page's form carries."""
    field = soup(client.get(path)).select_one("input[name=csrf_token]")
    assert field is not None, f"no CSRF token on {path}"
    return str(field["value"])


def log_in(client: FlaskClient, password: str = ADMIN_PASSWORD, *, next_path: str = "") -> TestResponse:
    """Log in through the real form, CSRF token included."""
    query = f"?next={next_path}" if next_path else ""
    token = csrf_token_of(client, "/login")
    return client.post(f"/login{query}", data={"csrf_token": token, "username": "admin", "password": password})


def log_out(client: FlaskClient, page: str) -> TestResponse:
    """Log out with the logout form of an admin page."""
    form = soup(client.get(page)).select_one("form[action$='/logout']")
    assert form is not None, f"no logout form on {page}"
    token = form.select_one("input[name=csrf_token]")
    data = {"csrf_token": str(token["value"])} if token is not None else {}
    return client.post("/logout", data=data)
