"""A CR/LF in a path, in a query or in a log-in's `next` is never a 500 and never splits a header."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from musicstore import orders
from musicstore.common.db import get_database
from musicstore.common.embedded_pg import EmbeddedPostgres
from tests.cart.conftest import cart_settings, make_app
from tests.cart.fakes import FakeOrders, FakeStore
from tests.conftest import new_database
from tests.orders.conftest import order_settings
from tests.security.conftest import ADMIN_PASSWORD, log_in

CRLF_PATHS = ["/%0d%0aSet-Cookie:%20x=1", "/admin%0d%0a", "/track/a%0d%0ab", "/cart%0aX", "/api/orders%0d%0a"]


@pytest.fixture()
def orders_on_localhost(data_dir: Path) -> Iterator[Flask]:
    """The order service whose public URL is http://localhost:5001 (opened as 127.0.0.1 it redirects)."""
    settings = order_settings(data_dir, ADMIN_PASSWORD=ADMIN_PASSWORD, ORDER_SERVICE_URL="http://localhost:5001")
    orders.prepare(settings)
    app = orders.create_app(settings, TESTING=True)
    yield app
    get_database(app).dispose()


@pytest.mark.parametrize("path", CRLF_PATHS)
@pytest.mark.parametrize("service", ["store", "orders", "cart"])
def test_a_crlf_in_a_path_is_a_clean_answer(
    store_app: Flask, orders_app: Flask, cart_app: Flask, service: str, path: str
) -> None:
    app = {"store": store_app, "orders": orders_app, "cart": cart_app}[service]
    response = app.test_client().get(path)
    assert response.status_code < 500
    assert "x=1" not in " ".join(response.headers.getlist("Set-Cookie"))


def test_a_crlf_in_a_path_opened_by_the_other_loopback_name_is_not_a_500(orders_on_localhost: Flask) -> None:
    client = orders_on_localhost.test_client()
    response = client.get("http://127.0.0.1:5001/login%0d%0aSet-Cookie:%20x=1?a=%0d%0a")
    assert response.status_code in (302, 404)
    assert "\r" not in response.headers.get("Location", "") and "\n" not in response.headers.get("Location", "")


@pytest.mark.parametrize("next_path", ["/admin%0d%0aSet-Cookie:%20x=1", "/%0aLocation:%20http://evil.example"])
def test_a_crlf_in_the_log_ins_next_is_not_a_500_and_stays_on_the_site(store_app: Flask, next_path: str) -> None:
    response = log_in(store_app.test_client(), next_path=next_path)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and "\r" not in location and "\n" not in location
    assert "evil.example" not in location.split("%")[0]


def test_an_anonymous_visit_to_an_admin_page_with_a_crlf_in_its_query_is_sent_to_the_log_in(store_app: Flask) -> None:
    response = store_app.test_client().get("/admin?q=%0d%0aSet-Cookie:%20x=1")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("next_path", ["/%5Cevil.example", "/%09/evil.example", "/%5C%5Cevil.example/"])
def test_a_next_a_browser_would_read_as_another_site_stays_on_this_one(store_app: Flask, next_path: str) -> None:
    response = log_in(store_app.test_client(), next_path=next_path)
    location = response.headers["Location"]
    # Browsers drop tabs and newlines from a URL and read a backslash as a slash.
    as_a_browser_reads_it = location.replace("\\", "/").replace("\t", "").replace("\n", "").replace("\r", "")
    assert as_a_browser_reads_it.startswith("/") and not as_a_browser_reads_it.startswith("//")


@pytest.fixture(scope="module")
def cart_pg_url(pg_server: EmbeddedPostgres) -> str:
    """A cart database on PostgreSQL, which refuses a NUL in a string (SQLite does not)."""
    return new_database(pg_server, "security_cart")


@pytest.mark.parametrize("key", ["%00abc", "abcdefgh%00", "a" * 300, "%0d%0aabcdefgh"])
def test_a_confirmation_key_postgresql_cannot_hold_is_a_404_not_a_500(
    cart_pg_url: str, data_dir: Path, key: str
) -> None:
    app = make_app(cart_settings(data_dir, CART_DATABASE_URL=cart_pg_url), FakeStore(), FakeOrders())
    try:
        assert app.test_client().get(f"/confirmation/{key}").status_code == 404
    finally:
        get_database(app).dispose()
