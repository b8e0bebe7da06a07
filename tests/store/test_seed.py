"""The demo catalog: seeded once, never again, never destructive."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from musicstore.store import prepare
from musicstore.store.seed import DEMO_ALBUMS
from tests.store.conftest import ADMIN, store_settings

pytestmark = pytest.mark.slow  # each draws the demo catalog's 58 covers (2-3 s); CI runs them


def test_preparing_twice_seeds_the_demo_catalog_once(
    app: Flask, client: FlaskClient, clean_store_db: str, data_dir: Path
) -> None:
    settings = store_settings(clean_store_db, data_dir)
    prepare(settings)
    first = client.get("/api/albums?per_page=100").get_json()
    prepare(settings)
    second = client.get("/api/albums?per_page=100").get_json()
    assert first == second
    assert first["total"] == len(DEMO_ALBUMS) >= 40
    stats = client.get("/api/stats").get_json()
    assert stats["genres"] >= 8
    assert len(list(settings.covers_dir.glob("*.png"))) == len(DEMO_ALBUMS)


def test_a_catalog_emptied_by_the_admin_is_not_seeded_again(
    app: Flask, client: FlaskClient, clean_store_db: str, data_dir: Path
) -> None:
    settings = store_settings(clean_store_db, data_dir)
    prepare(settings)
    for album in client.get("/api/albums?per_page=100").get_json()["items"]:
        assert client.delete(f"/api/album/{album['id']}", headers=ADMIN).status_code == 204
    prepare(settings)
    assert client.get("/api/albums").get_json()["total"] == 0


def test_the_demo_catalog_has_sold_out_and_nearly_gone_albums(
    app: Flask, client: FlaskClient, clean_store_db: str, data_dir: Path
) -> None:
    prepare(store_settings(clean_store_db, data_dir))
    stocks = [a["stock"] for a in client.get("/api/albums?per_page=100").get_json()["items"]]
    assert 0 in stocks and any(0 < s <= 3 for s in stocks) and any(s > 10 for s in stocks)
