"""Admin session cookies are Secure when the request came over HTTPS (directly or through a trusted proxy)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from musicstore import orders, store
from musicstore.common.db import get_database
from tests.orders.conftest import order_settings
from tests.security.conftest import ADMIN_PASSWORD, csrf_token_of
from tests.store.conftest import store_settings

SERVICES = ["store", "orders"]
MakeApp = Callable[..., Flask]


@pytest.fixture()
def make_app(security_store_db: str, data_dir: Path) -> Iterator[MakeApp]:
    """Build the store or the order service with settings of the test's choosing."""
    made: list[Flask] = []

    def make(service: str, **settings: Any) -> Flask:
        if service == "store":
            app = store.create_app(store_settings(security_store_db, data_dir, **settings), TESTING=True)
        else:
            chosen = order_settings(data_dir, ADMIN_PASSWORD=ADMIN_PASSWORD, **settings)
            orders.prepare(chosen)
            app = orders.create_app(chosen, TESTING=True)
        made.append(app)
        return app

    yield make
    for app in made:
        get_database(app).dispose()


def log_in_over(client: FlaskClient, base_url: str, **headers: str) -> TestResponse:
    # Over HTTPS, Flask-WTF wants a Referer of this site, as a browser sends.
    headers = {"Referer": f"{base_url}/login", **headers}
    token = csrf_token_of(client, f"{base_url}/login")
    data = {"csrf_token": token, "username": "admin", "password": ADMIN_PASSWORD}
    return client.post(f"{base_url}/login", data=data, headers=headers)


def session_cookie(response: TestResponse, name: str) -> str:
    assert response.status_code == 302, response.status_code
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith(f"{name}=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


@pytest.mark.parametrize("service", SERVICES)
def test_over_https_the_admin_session_cookie_is_secure(make_app: MakeApp, service: str) -> None:
    response = log_in_over(make_app(service).test_client(), f"https://{service}.test")
    cookie = session_cookie(response, f"{service}_session")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("service", SERVICES)
def test_behind_a_trusted_proxy_speaking_https_the_admin_session_cookie_is_secure(
    make_app: MakeApp, service: str
) -> None:
    client = make_app(service, FORWARDED_HOPS=1).test_client()
    proxied = {"X-Forwarded-Proto": "https", "Referer": f"https://{service}.test/login"}
    response = log_in_over(client, f"http://{service}.test", **proxied)
    assert "Secure" in session_cookie(response, f"{service}_session")


@pytest.mark.parametrize("service", SERVICES)
def test_over_plain_http_the_cookie_is_not_marked_secure(make_app: MakeApp, service: str) -> None:
    response = log_in_over(make_app(service).test_client(), f"http://{service}.test")
    assert "Secure" not in session_cookie(response, f"{service}_session")
