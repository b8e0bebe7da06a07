"""Every call through the shared client names its caller (User-Agent: musicstore-<service>) and is counted by
it: http_client_requests_total{peer, method, route, status}, http_client_request_duration_seconds{peer, route}."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from musicstore.cart import create_app as create_cart
from musicstore.cart import prepare as prepare_cart
from musicstore.cart.clients import StoreClient
from musicstore.common.db import get_database
from musicstore.common.embedded_pg import free_port
from musicstore.common.http import DownstreamRejected, DownstreamUnavailable, route_template
from musicstore.common.metrics import Metrics
from tests.cart.conftest import cart_settings
from tests.metrics.conftest import samples, value
from tests.metrics.peer import Peer, running_peer


@pytest.fixture()
def peer() -> Iterator[tuple[Peer, str]]:
    with running_peer() as running:
        yield running


def counted(metrics: Metrics) -> dict[frozenset[tuple[str, str]], float]:
    return samples(metrics.exposition(), "http_client_requests_total")


def timed(metrics: Metrics) -> dict[frozenset[tuple[str, str]], float]:
    return samples(metrics.exposition(), "http_client_request_duration_seconds_count")


def test_a_call_sends_the_callers_name_and_is_counted_by_peer_method_route_and_status(
    peer: tuple[Peer, str],
) -> None:
    fake, url = peer
    metrics = Metrics("cart")
    store = StoreClient(url, caller="cart", timeout=2, metrics=metrics)
    store.get("/api/album/42")
    fake.statuses["/api/album/7"] = [404]
    with pytest.raises(DownstreamRejected):
        store.get("/api/album/7")
    assert fake.user_agents == ["musicstore-cart", "musicstore-cart"]
    found = counted(metrics)
    assert value(found, peer="store", method="GET", route="/api/album/{id}", status="200") == 1
    assert value(found, peer="store", method="GET", route="/api/album/{id}", status="404") == 1
    assert value(timed(metrics), peer="store", route="/api/album/{id}") == 2


def test_each_try_of_a_retried_call_is_counted_with_its_own_status(peer: tuple[Peer, str]) -> None:
    fake, url = peer
    metrics = Metrics("cart")
    fake.statuses["/api/stock/release"] = [503, 502]
    StoreClient(url, caller="cart", timeout=2, backoff=0, metrics=metrics).release("r-1")
    found = counted(metrics)
    route = {"peer": "store", "method": "POST", "route": "/api/stock/release"}
    assert [value(found, **route, status=s) for s in ("503", "502", "200")] == [1, 1, 1]


def test_a_call_without_an_answer_counts_as_timeout_or_error(peer: tuple[Peer, str]) -> None:
    _fake, url = peer
    metrics = Metrics("orders")
    with pytest.raises(DownstreamUnavailable):
        StoreClient(url, caller="orders", timeout=0.2, retries=0, metrics=metrics).get("/hold/5")
    with pytest.raises(DownstreamUnavailable):
        StoreClient(f"http://127.0.0.1:{free_port()}", caller="orders", timeout=2, retries=0, metrics=metrics).get(
            "/api/albums"
        )
    found = counted(metrics)
    assert value(found, peer="store", method="GET", route="/hold/{id}", status="timeout") == 1
    assert value(found, peer="store", method="GET", route="/api/albums", status="error") == 1


def test_a_rejected_call_is_counted_before_it_raises(peer: tuple[Peer, str]) -> None:
    fake, url = peer
    metrics = Metrics("cart")
    fake.statuses["/api/stock/reserve"] = [422]
    with pytest.raises(DownstreamRejected):
        StoreClient(url, caller="cart", timeout=2, metrics=metrics).reserve("r-2", [(1, 1)])
    assert value(counted(metrics), peer="store", method="POST", route="/api/stock/reserve", status="422") == 1


def test_a_health_ping_is_a_counted_call_too(peer: tuple[Peer, str]) -> None:
    fake, url = peer
    metrics = Metrics("cart")
    assert StoreClient(url, caller="cart", timeout=2, metrics=metrics).ping()
    assert fake.user_agents == ["musicstore-cart"]
    assert value(counted(metrics), peer="store", method="GET", route="/healthz", status="200") == 1


def test_routes_are_templates_whatever_the_ids() -> None:
    rng = random.Random(3)
    for _ in range(200):
        album, order = rng.randint(0, 2**63), rng.randint(1, 10**6)
        assert route_template(f"/api/album/{album}") == "/api/album/{id}"
        assert route_template(f"/api/orders/{order}/status") == "/api/orders/{id}/status"
        assert route_template(f"/api/album/{album}/stock?x={order}") == "/api/album/{id}/stock"
    assert route_template("/api/albums") == "/api/albums"


def test_the_carts_own_clients_name_the_cart_and_count_on_its_metrics(data_dir: Path, peer: tuple[Peer, str]) -> None:
    fake, url = peer
    settings = cart_settings(data_dir, STORE_SERVICE_URL=url, ORDER_SERVICE_URL=url, RECONCILE_INTERVAL=0)
    prepare_cart(settings)
    app = create_cart(settings, TESTING=True)
    try:
        assert app.test_client().get("/readyz").status_code == 200  # pings the store and the order service
        text = app.test_client().get("/metrics").get_data(as_text=True)
    finally:
        get_database(app).dispose()
    assert fake.user_agents == ["musicstore-cart", "musicstore-cart"]
    found = samples(text, "http_client_requests_total")
    for service in ("store", "orders"):
        assert value(found, peer=service, method="GET", route="/healthz", status="200") == 1


def test_the_order_services_stock_returns_name_it_and_count_on_its_metrics(
    orders_app: Flask, peer: tuple[Peer, str]
) -> None:
    fake, url = peer
    wired = orders_app.extensions["stock_returns"].store  # its connection pool is for the configured store
    store = type(wired)(url, timeout=wired.timeout, token="t", metrics=wired.metrics)
    store.return_stock("r-3")
    assert fake.user_agents == ["musicstore-orders"]
    text = orders_app.test_client().get("/metrics").get_data(as_text=True)
    found = samples(text, "http_client_requests_total")
    assert value(found, peer="store", method="POST", route="/api/stock/return", status="200") == 1


def test_a_call_goes_straight_to_the_service_whatever_proxy_the_environment_names(
    peer: tuple[Peer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = peer
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    store = StoreClient(url, caller="cart", timeout=2, metrics=Metrics("cart"))
    store.get("/api/album/42")
    assert fake.user_agents == ["musicstore-cart"]
