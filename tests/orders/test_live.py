"""The order API against running services (gunicorn), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.orders.conftest import ADMIN, SERVICE, empty_pg, line, new_key, order_body
from tests.orders.live import running_orders
from tests.support.live import LiveService

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """No URL (SQLite in the data directory), or an empty PostgreSQL database."""
    return empty_pg(request.getfixturevalue("orders_pg_url")) if request.param == "postgresql" else ""


@pytest.fixture()
def replicas(data_dir: Path, database_url: str) -> Iterator[list[LiveService]]:
    """Two order services sharing one database, as two replicas would."""
    with running_orders(data_dir, database_url, replicas=2) as services:
        yield services


def _post(url: str, body: dict[str, object], key: str, session: requests.Session | None = None) -> requests.Response:
    sender = session or requests
    return sender.post(f"{url}/api/orders", json=body, headers={**SERVICE, "Idempotency-Key": key}, timeout=30)


def test_a_running_service_creates_replays_and_moves_an_order(replicas: list[LiveService]) -> None:
    url = replicas[0].url
    key = new_key()
    body = order_body(items=[line(unit_price="12.99", quantity=2)], total="1.00")
    with _post(url, body, key) as created, _post(replicas[1].url, body, key) as again:
        assert created.status_code == 201 and again.status_code == 200
        assert again.json() == created.json() and created.json()["total"] == "25.98"
        order_id = created.json()["id"]
    with requests.put(
        f"{url}/api/orders/{order_id}/status", json={"status": "shipped"}, headers=ADMIN, timeout=10
    ) as refused:
        assert refused.status_code == 409
    with requests.put(
        f"{url}/api/orders/{order_id}/status", json={"status": "confirmed"}, headers=ADMIN, timeout=10
    ) as moved:
        assert moved.status_code == 200 and moved.json()["status"] == "confirmed"
    with requests.get(f"{url}/api/orders?status=confirmed", headers=SERVICE, timeout=10) as listed:
        assert [o["id"] for o in listed.json()["items"]] == [order_id]
    with requests.get(f"{url}/api/orders", timeout=10) as anonymous:
        assert anonymous.status_code == 401
    with requests.get(f"{url}/readyz", timeout=10) as ready:
        assert ready.json()["database"] == "up"


def test_ten_simultaneous_requests_with_one_key_make_exactly_one_order(replicas: list[LiveService]) -> None:
    key, body = new_key(), order_body(items=[line(7, quantity=3)])
    start = threading.Barrier(10)
    answers: list[tuple[int, int]] = []
    lock = threading.Lock()

    def send(url: str) -> None:
        with requests.Session() as session:
            start.wait(timeout=30)
            with _post(url, body, key, session) as response, lock:
                answers.append((response.status_code, response.json().get("id", -1)))

    threads = [threading.Thread(target=send, args=(replicas[i % 2].url,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 10
    assert sorted(status for status, _ in answers) == [200] * 9 + [201]
    assert len({order_id for _, order_id in answers}) == 1
    with requests.get(f"{replicas[0].url}/api/orders", headers=SERVICE, timeout=10) as listed:
        assert listed.json()["total"] == 1
    with (
        requests.get(f"{replicas[0].url}/metrics", timeout=10) as m0,
        requests.get(f"{replicas[1].url}/metrics", timeout=10) as m1,
    ):
        created = [
            line
            for text in (m0.text, m1.text)
            for line in text.splitlines()
            if line.startswith("orders_created_total ")
        ]
        assert sorted(created) == ["orders_created_total 0.0", "orders_created_total 1.0"]


def test_many_different_orders_at_once_each_get_their_own_number(replicas: list[LiveService]) -> None:
    start = threading.Barrier(10)
    numbers: list[str] = []
    lock = threading.Lock()

    def send(i: int) -> None:
        start.wait(timeout=30)
        with _post(replicas[i % 2].url, order_body(items=[line(i + 1)]), new_key()) as response, lock:
            numbers.append(response.json()["order_number"])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(numbers) == [f"MS-{i:06d}" for i in range(1, 11)]


def test_bad_bodies_against_the_running_service_are_4xx_json(replicas: list[LiveService]) -> None:
    url = replicas[0].url
    for data in ("{not json", "[" * 100_000, '{"items": "x"}', "null"):
        with requests.post(
            f"{url}/api/orders",
            data=data,
            timeout=10,
            headers={**SERVICE, "Idempotency-Key": new_key(), "Content-Type": "application/json"},
        ) as r:
            assert 400 <= r.status_code < 500 and "error" in r.json()
    with requests.post(f"{url}/api/orders", json=order_body(), headers=SERVICE, timeout=10) as no_key:
        assert no_key.status_code == 400
