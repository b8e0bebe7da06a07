"""Admin sessions end at log-out on the server side (a saved cookie is refused, by every worker and replica),
end a fixed time after log-in however busy they are, are not re-issued on every answer, and are each service's own."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import BadSignature

from musicstore import orders, store
from musicstore.common import sessions
from musicstore.common.db import get_database
from tests.orders.conftest import insert_order, stored_order
from tests.security.conftest import csrf_token_of, log_in, log_out

HOME = {"store": "/admin", "orders": "/"}
SERVICES = ["store", "orders"]
EIGHT_HOURS = 8 * 3600


def app_of(service: str, store_app: Flask, orders_app: Flask) -> Flask:
    return store_app if service == "store" else orders_app


def another_worker(app: Flask) -> Flask:
    """A second app on the same settings and database, as another worker process or replica runs it."""
    factory = store.create_app if app.config["SERVICE_NAME"] == "store" else orders.create_app
    return factory(app.config["SETTINGS"], TESTING=True)


def cookie_name(app: Flask) -> str:
    return str(app.config["SESSION_COOKIE_NAME"])


def saved_cookie(client: FlaskClient, app: Flask) -> str:
    cookie = client.get_cookie(cookie_name(app))
    assert cookie is not None
    return cookie.value


def client_with(app: Flask, value: str) -> FlaskClient:
    """A fresh browser that carries a saved session cookie."""
    client = app.test_client()
    client.set_cookie(cookie_name(app), value)
    return client


def is_logged_in(client: FlaskClient, service: str) -> bool:
    response = client.get(HOME[service])
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


@pytest.mark.parametrize("service", SERVICES)
def test_a_cookie_saved_before_log_out_is_refused_after_it(store_app: Flask, orders_app: Flask, service: str) -> None:
    app = app_of(service, store_app, orders_app)
    client = app.test_client()
    assert log_in(client).status_code == 302
    saved = saved_cookie(client, app)
    assert is_logged_in(client_with(app, saved), service)
    assert log_out(client, HOME[service]).status_code == 302
    assert not is_logged_in(client_with(app, saved), service)


@pytest.mark.parametrize("service", SERVICES)
def test_a_log_out_in_one_worker_ends_the_session_in_every_other(
    store_app: Flask, orders_app: Flask, service: str
) -> None:
    app = app_of(service, store_app, orders_app)
    other = another_worker(app)
    try:
        client = app.test_client()
        log_in(client)
        saved = saved_cookie(client, app)
        assert is_logged_in(client_with(other, saved), service)
        log_out(client, HOME[service])
        assert not is_logged_in(client_with(other, saved), service)
    finally:
        get_database(other).dispose()


def test_a_saved_cookie_cannot_move_an_order_on_after_log_out(orders_app: Flask) -> None:
    order_id = insert_order(orders_app)
    client = orders_app.test_client()
    log_in(client)
    token = csrf_token_of(client, f"/orders/{order_id}")
    saved = saved_cookie(client, orders_app)  # with the CSRF token's secret in it
    log_out(client, "/")
    thief = client_with(orders_app, saved)
    response = thief.post(f"/orders/{order_id}/status", data={"csrf_token": token, "status": "confirmed"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    order = stored_order(orders_app, order_id)
    assert order is not None and order.status == "pending"


@pytest.mark.parametrize("service", SERVICES)
def test_a_session_ends_eight_hours_after_log_in_however_often_it_is_used(
    store_app: Flask, orders_app: Flask, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_of(service, store_app, orders_app)
    client = app.test_client()
    logged_in_at = time.time()
    log_in(client)
    monkeypatch.setattr(sessions, "now", lambda: logged_in_at + EIGHT_HOURS - 60)
    assert is_logged_in(client, service)
    monkeypatch.setattr(sessions, "now", lambda: logged_in_at + EIGHT_HOURS + 1)
    assert not is_logged_in(client, service)


@pytest.mark.parametrize("service", SERVICES)
def test_answers_do_not_reissue_the_session_cookie(store_app: Flask, orders_app: Flask, service: str) -> None:
    app = app_of(service, store_app, orders_app)
    client = app.test_client()
    log_in(client)
    client.get(HOME[service])  # the first page with a form keeps its CSRF token in the session
    for path in ["/healthz", HOME[service], HOME[service]]:
        response = client.get(path)
        cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{cookie_name(app)}=")]
        assert cookies == [], (path, cookies)


@pytest.mark.parametrize("service", SERVICES)
def test_the_session_cookie_expires_eight_hours_after_log_in(store_app: Flask, orders_app: Flask, service: str) -> None:
    app = app_of(service, store_app, orders_app)
    client = app.test_client()
    before = time.time()
    log_in(client)
    cookie = client.get_cookie(cookie_name(app))
    assert cookie is not None and cookie.expires is not None
    expires = cookie.expires.replace(tzinfo=UTC) if cookie.expires.tzinfo is None else cookie.expires
    assert abs(expires.timestamp() - (before + EIGHT_HOURS)) < 5
    assert expires < datetime.fromtimestamp(time.time() + EIGHT_HOURS + 5, UTC)


def test_a_store_session_cookie_is_refused_by_the_order_service(store_app: Flask, orders_app: Flask) -> None:
    client = store_app.test_client()
    log_in(client)
    stolen = saved_cookie(client, store_app)
    with pytest.raises(BadSignature):
        orders_app.session_interface.get_signing_serializer(orders_app).loads(stolen)  # type: ignore[attr-defined]
    assert not is_logged_in(client_with(orders_app, stolen), "orders")


def test_a_request_without_a_session_cookie_builds_no_signer_and_a_forged_cookie_is_still_refused(
    store_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    interface = store_app.session_interface
    built: list[Flask] = []
    original = interface.get_signing_serializer  # type: ignore[attr-defined]

    def counting(app: Flask) -> object:
        built.append(app)
        return original(app)

    monkeypatch.setattr(interface, "get_signing_serializer", counting)
    assert store_app.test_client().get("/api/albums").status_code == 200
    assert built == []  # no cookie: an empty session, nothing to verify, nothing to sign
    forged = client_with(store_app, "eyJsb2dnZWRfaW4iOnRydWV9.forged.signature")
    assert forged.get("/admin").status_code == 302  # the forged cookie is checked (and refused): not logged in
    assert built != []
