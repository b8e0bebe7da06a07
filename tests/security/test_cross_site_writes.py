"""Writes to admin and internal APIs that name another site's Origin are refused (403), whatever credentials
a browser attached; without an Origin (servers, curl) they work as before."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from tests.security.conftest import ADMIN

EVIL = {"Origin": "http://evil.example"}
SERVICE = {"Authorization": "Bearer test-service-token"}


def album_fields(**extra: Any) -> dict[str, Any]:
    return {"title": "Cross", "artist": "Site", "genre": "Rock", "year": "2020", "price": "9.99", "stock": "3", **extra}


def png() -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 0, 0)).save(buffer, format="PNG")
    buffer.seek(0)
    return buffer


def albums_in_catalog(client: FlaskClient) -> int:
    total: int = client.get("/api/albums").get_json()["total"]
    return total


@pytest.mark.parametrize("encoding", ["form", "multipart"])
def test_a_cross_site_album_post_with_basic_credentials_is_refused_and_creates_nothing(
    store_app: Flask, encoding: str
) -> None:
    client = store_app.test_client()
    before = albums_in_catalog(client)
    data = album_fields(cover=(png(), "cover.png")) if encoding == "multipart" else album_fields()
    content_type = "multipart/form-data" if encoding == "multipart" else "application/x-www-form-urlencoded"
    response = client.post("/api/albums", data=data, content_type=content_type, headers={**ADMIN, **EVIL})
    assert response.status_code == 403
    assert "error" in response.get_json()
    assert albums_in_catalog(client) == before


@pytest.mark.parametrize("origin", [None, "http://store.test", "http://cart.test", "http://localhost:5001"])
def test_an_album_post_from_the_shop_or_without_an_origin_is_still_accepted(
    store_app: Flask, origin: str | None
) -> None:
    client = store_app.test_client()
    headers = {**ADMIN, **({"Origin": origin} if origin else {})}
    assert client.post("/api/albums", data=album_fields(), headers=headers).status_code == 201


@pytest.mark.parametrize(
    "origin", ["null", "http://store.test.evil.example", "https://store.test", "http://store.test:81"]
)
def test_origins_that_only_look_like_the_shop_are_refused(store_app: Flask, origin: str) -> None:
    client = store_app.test_client()
    response = client.post("/api/albums", json=album_fields(), headers={**ADMIN, "Origin": origin})
    assert response.status_code == 403


def test_a_cross_site_stock_reservation_with_the_service_token_is_refused(store_app: Flask) -> None:
    client = store_app.test_client()
    body = {"reservation_id": "cross-site-1", "items": [{"album_id": 1, "quantity": 1}]}
    response = client.post("/api/stock/reserve", json=body, headers={**SERVICE, **EVIL})
    assert response.status_code == 403


def test_cross_site_reads_are_not_refused(orders_app: Flask) -> None:
    client = orders_app.test_client()
    assert client.get("/api/orders", headers={**ADMIN, **EVIL}).status_code == 200


def test_cross_site_order_writes_are_refused(orders_app: Flask) -> None:
    client = orders_app.test_client()
    status = client.put("/api/orders/1/status", json={"status": "shipped"}, headers={**ADMIN, **EVIL})
    create = client.post("/api/orders", json={}, headers={**SERVICE, **EVIL, "Idempotency-Key": "cross-site-1"})
    assert (status.status_code, create.status_code) == (403, 403)
    assert client.get("/api/orders", headers=ADMIN).get_json()["total"] == 0
