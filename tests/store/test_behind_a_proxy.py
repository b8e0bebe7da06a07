"""Behind an ingress: with FORWARDED_HOPS set, limits key on the client the proxy saw and cookies are Secure on HTTPS;
without it, forwarded headers are ignored (a client cannot pick its own address)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from musicstore.common.db import get_database
from musicstore.store import create_app
from tests.store.conftest import store_settings

LOGIN = {"username": "admin", "password": "wrong"}


def store_app(url: str, data_dir: Path, **settings: object) -> Flask:
    return create_app(
        store_settings(url, data_dir, **settings), WTF_CSRF_ENABLED=False, LOGIN_RATE_LIMIT="2 per minute"
    )


@pytest.fixture()
def behind_proxy(clean_store_db: str, data_dir: Path) -> Iterator[Flask]:
    app = store_app(clean_store_db, data_dir, FORWARDED_HOPS=1)
    yield app
    get_database(app).dispose()


@pytest.fixture()
def direct(clean_store_db: str, data_dir: Path) -> Iterator[Flask]:
    app = store_app(clean_store_db, data_dir)
    yield app
    get_database(app).dispose()


def failed_logins(app: Flask, forwarded_for: str, count: int) -> list[int]:
    client = app.test_client()
    headers = {"X-Forwarded-For": forwarded_for}
    return [client.post("/login", data=LOGIN, headers=headers).status_code for _ in range(count)]


def test_behind_the_proxy_the_login_limit_keys_on_the_forwarded_client(behind_proxy: Flask) -> None:
    assert failed_logins(behind_proxy, "203.0.113.7", 3) == [401, 401, 429]
    assert failed_logins(behind_proxy, "203.0.113.8", 1) == [401]  # another client behind the same ingress


def test_without_forwarded_hops_a_client_cannot_escape_the_limit_by_naming_another_address(direct: Flask) -> None:
    assert failed_logins(direct, "203.0.113.7", 2) == [401, 401]
    assert failed_logins(direct, "203.0.113.8", 1) == [429]


def test_behind_a_proxy_that_speaks_https_the_session_cookie_is_secure(behind_proxy: Flask) -> None:
    client = behind_proxy.test_client()
    answer = client.post("/login", data={"username": "admin", "password": "test-admin-pass"},
                         headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})  # fmt: skip
    cookie = answer.headers["Set-Cookie"]
    assert answer.status_code == 302 and "Secure" in cookie and "HttpOnly" in cookie
