"""The order list cache: `GET /api/orders` is answered from memory, yet never misses a committed change.

"Another worker or replica" is a second app on the same database: each has its own cache, as each gunicorn worker
and each replica does. "Plain SQL" is an operator's statement in a connection of its own. Every test runs on SQLite
and on PostgreSQL (the `app` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from musicstore.common.db import get_database
from musicstore.orders import create_app, prepare
from musicstore.orders.list_cache import AnswerCache
from musicstore.orders.settings import OrderSettings
from tests.orders.conftest import ADMIN, SERVICE, line, order_body, order_settings, post_order
from tests.support.sql import run_sql


@pytest.fixture
def other(backend_settings: OrderSettings) -> Iterator[FlaskClient]:
    """A client of a second order app on the same database (another worker or replica)."""
    second = create_app(backend_settings, TESTING=True)
    yield second.test_client()
    get_database(second).dispose()


def listed(client: FlaskClient, query: str = "") -> dict[str, Any]:
    """The admin's order list, as JSON."""
    response = client.get(f"/api/orders{query}", headers=ADMIN)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    return answer


def statuses(client: FlaskClient) -> dict[int, str]:
    """Each listed order's status, by id."""
    return {order["id"]: order["status"] for order in listed(client)["items"]}


def two_orders(client: FlaskClient) -> list[int]:
    """Two orders made through the API, and the list asked for twice (so it is in the cache)."""
    ids = [post_order(client, order_body(items=[line(n), line(n + 10)])).get_json()["id"] for n in (1, 2)]
    listed(client)
    listed(client)
    return ids


def cache_outcomes(client: FlaskClient) -> str:
    """The order list cache's counters, as /metrics shows them."""
    metrics = client.get("/metrics").get_data(as_text=True)
    return "\n".join(row for row in metrics.splitlines() if row.startswith("order_list_cache_requests_total"))


def test_a_repeated_list_is_answered_from_the_cache_with_the_same_body(client: FlaskClient) -> None:
    post_order(client)
    first = client.get("/api/orders", headers=ADMIN)
    second = client.get("/api/orders", headers=ADMIN)
    assert second.get_data() == first.get_data()
    assert second.mimetype == "application/json"
    assert 'outcome="miss"} 1.0' in cache_outcomes(client)
    assert 'outcome="hit"} 1.0' in cache_outcomes(client)


def test_a_status_change_in_another_worker_is_listed_at_once(client: FlaskClient, other: FlaskClient) -> None:
    first, _ = two_orders(client)
    moved = other.put(f"/api/orders/{first}/status", json={"status": "confirmed"}, headers=ADMIN)
    assert moved.status_code == 200
    assert statuses(client)[first] == "confirmed"


def test_a_new_order_from_another_worker_is_listed_at_once(client: FlaskClient, other: FlaskClient) -> None:
    two_orders(client)
    made = post_order(other).get_json()["id"]
    answer = listed(client)
    assert answer["total"] == 3
    assert answer["items"][0]["id"] == made


@pytest.mark.parametrize(
    ("statement", "seen"),
    [
        ("UPDATE orders SET status = 'shipped'", lambda a: {o["status"] for o in a["items"]} == {"shipped"}),
        ("UPDATE orders SET customer_name = 'Grace'", lambda a: a["items"][0]["customer_name"] == "Grace"),
        ("UPDATE order_lines SET quantity = 7", lambda a: a["items"][0]["items"][0]["quantity"] == 7),
        ("UPDATE order_lines SET unit_price = 100", lambda a: a["items"][0]["items"][0]["unit_price"] == "1.00"),
        ("DELETE FROM order_lines WHERE album_id > 10", lambda a: len(a["items"][0]["items"]) == 1),
        ("DELETE FROM orders", lambda a: a["total"] == 0 and a["items"] == []),
    ],
)
def test_a_change_made_with_plain_sql_is_listed_at_once(
    app: Flask, client: FlaskClient, statement: str, seen: Any
) -> None:
    two_orders(client)
    if statement.startswith("DELETE FROM orders"):
        run_sql(app, "DELETE FROM order_lines")
    run_sql(app, statement)
    assert seen(listed(client))


def test_an_order_added_with_plain_sql_is_listed_at_once(app: Flask, client: FlaskClient) -> None:
    two_orders(client)
    run_sql(
        app,
        "INSERT INTO orders (idempotency_key, request_hash, tracking_token, customer_name, customer_email, "
        "card_brand, card_last4, total, status, created_at, updated_at) VALUES ('sql-1', 'h', "
        "'t-0123456789abcdefghijkl', 'Ada', 'ada@example.com', 'Visa', '4242', 1299, 'pending', "
        "'2025-01-31 12:00:00+00', '2025-01-31 12:00:00+00')",
    )
    answer = listed(client)
    assert answer["total"] == 3
    assert answer["items"][0]["customer_name"] == "Ada"


def test_every_filter_and_page_is_kept_apart(client: FlaskClient) -> None:
    two_orders(client)
    assert listed(client, "?status=pending")["total"] == 2
    assert listed(client, "?status=shipped")["total"] == 0
    assert len(listed(client, "?per_page=1")["items"]) == 1
    assert len(listed(client, "?per_page=1&page=2")["items"]) == 1
    assert listed(client, "?per_page=1")["items"] != listed(client, "?per_page=1&page=2")["items"]


def test_the_cache_answers_only_callers_with_credentials(client: FlaskClient) -> None:
    two_orders(client)
    assert client.get("/api/orders").status_code == 401
    assert client.get("/api/orders", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/orders", headers=SERVICE).get_json() == listed(client)


def test_a_lookup_by_idempotency_key_is_not_kept(app: Flask, client: FlaskClient) -> None:
    two_orders(client)
    cache: AnswerCache = app.extensions["order_list_cache"]
    kept = len(cache)
    assert listed(client, "?idempotency_key=test-key-none")["total"] == 0
    assert len(cache) == kept


def test_without_a_version_to_read_every_list_is_made_afresh(data_dir: Path) -> None:
    settings = order_settings(data_dir)
    prepare(settings)
    app = create_app(settings, TESTING=True)
    client = app.test_client()
    try:
        two_orders(client)
        run_sql(app, "DROP TABLE orders_version")  # a database not migrated this far (SQLite: its own file)
        assert listed(client)["total"] == 2
        assert listed(client)["total"] == 2
        assert 'outcome="hit"} 1.0' in cache_outcomes(client)  # only the hit before the table went
    finally:
        get_database(app).dispose()


def test_the_cache_keeps_at_most_its_size_in_bytes() -> None:
    cache = AnswerCache(max_bytes=10)
    cache.put("a", 1, b"12345", "application/json")
    cache.put("b", 1, b"12345", "application/json")
    cache.put("c", 1, b"123", "application/json")
    assert cache.get("a", 1) is None
    assert cache.get("b", 1) is not None
    assert cache.get("c", 1) is not None
    cache.put("big", 1, b"12345678901", "application/json")
    assert cache.get("big", 1) is None


def test_an_answer_made_at_another_version_is_never_served() -> None:
    cache = AnswerCache(max_bytes=100)
    cache.put("a", 1, b"old", "application/json")
    assert cache.get("a", 2) is None
    cache.put("b", 2, b"new", "application/json")
    assert cache.get("a", 1) is None  # a newer version empties what was kept
