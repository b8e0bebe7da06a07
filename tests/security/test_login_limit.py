"""Failed HTTP Basic attempts count against the same per-address limit as form log-ins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from musicstore import store
from musicstore.common.db import get_database
from tests.security.conftest import ADMIN, basic, log_in
from tests.store.conftest import store_settings
from tests.support.locked import limits_locked

WRONG = basic(password="guess")


@pytest.fixture()
def strict_store(security_store_db: str, data_dir: Path) -> Iterator[Flask]:
    """The store with a log-in limit of three attempts a minute."""
    app = store.create_app(store_settings(security_store_db, data_dir), TESTING=True, LOGIN_RATE_LIMIT="3 per minute")
    yield app
    get_database(app).dispose()


def test_500_wrong_basic_passwords_on_the_orders_api_are_stopped_after_the_login_limit(orders_app: Flask) -> None:
    client = orders_app.test_client()
    answers = [client.get("/api/orders", headers=WRONG) for _ in range(500)]
    statuses = [answer.status_code for answer in answers]
    assert statuses[:10] == [401] * 10
    assert set(statuses[10:]) == {429}
    last = answers[-1]
    assert int(last.headers["Retry-After"]) == 60
    assert "Too many attempts" in last.get_json()["error"]


def test_once_the_limit_is_used_up_even_the_right_password_waits(orders_app: Flask) -> None:
    client = orders_app.test_client()
    for _ in range(10):
        client.get("/api/orders", headers=WRONG)
    assert client.get("/api/orders", headers=ADMIN).status_code == 429


def test_failed_basic_attempts_and_form_log_ins_share_one_count(strict_store: Flask) -> None:
    client = strict_store.test_client()
    assert client.post("/api/album/1/stock", json={"delta": 1}, headers=WRONG).status_code == 401
    assert client.post("/api/album/1/stock", json={"delta": 1}, headers=WRONG).status_code == 401
    assert log_in(client, "guess").status_code == 401
    assert log_in(client, "guess").status_code == 429
    assert client.post("/api/album/1/stock", json={"delta": 1}, headers=WRONG).status_code == 429


def test_right_basic_credentials_do_not_use_up_the_limit(orders_app: Flask) -> None:
    client = orders_app.test_client()
    assert {client.get("/api/orders", headers=ADMIN).status_code for _ in range(30)} == {200}


def test_the_service_token_is_not_counted_as_a_log_in(orders_app: Flask) -> None:
    client = orders_app.test_client()
    service = {"Authorization": "Bearer test-service-token"}
    assert {client.get("/api/orders", headers=service).status_code for _ in range(30)} == {200}


def test_a_log_in_limit_that_cannot_be_counted_lets_attempts_through_rather_than_answering_500(
    orders_app: Flask,
) -> None:
    client = orders_app.test_client()
    with limits_locked(orders_app):  # longer than a count waits for it
        assert client.get("/api/orders", headers=WRONG).status_code == 401
        assert client.get("/api/orders", headers=ADMIN).status_code == 200
    assert client.get("/api/orders", headers=ADMIN).status_code == 200  # and once it can be counted again
