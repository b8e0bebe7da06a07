"""Store fixtures: the app built from create_app on a real PostgreSQL database."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from musicstore.common.db import get_database
from musicstore.common.embedded_pg import EmbeddedPostgres
from musicstore.common.migrate import upgrade
from musicstore.store import MIGRATIONS, create_app
from musicstore.store.covers import generate_cover
from musicstore.store.models import Album
from musicstore.store.settings import StoreSettings
from tests.conftest import new_database

ADMIN_PASSWORD = "test-admin-pass"
SERVICE_TOKEN = "test-service-token"


@pytest.fixture(scope="session")
def store_db_url(pg_server: EmbeddedPostgres) -> str:
    """A migrated catalog database for the run."""
    url = new_database(pg_server, "store_test")
    upgrade(MIGRATIONS, url)
    return url


@pytest.fixture()
def clean_store_db(store_db_url: str) -> str:
    """The catalog database, emptied before the test."""
    engine = create_engine(store_db_url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE albums, reservations, reservation_lines, store_meta RESTART IDENTITY CASCADE"))
    engine.dispose()
    return store_db_url


def store_settings(url: str, data_dir: Path, **overrides: Any) -> StoreSettings:
    """Settings for a test store."""
    values: dict[str, Any] = dict(
        DATABASE_URL=url,
        DATA_DIR=data_dir,
        SECRET_KEY="test-secret",
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        SERVICE_TOKEN=SERVICE_TOKEN,
        CART_SERVICE_URL="http://cart.test",
        STORE_SERVICE_URL="http://store.test",
    )
    values.update(overrides)
    return StoreSettings(**values)


@pytest.fixture()
def app(clean_store_db: str, data_dir: Path) -> Iterator[Flask]:
    """The store app on a clean catalog."""
    app = create_app(store_settings(clean_store_db, data_dir), TESTING=True, WTF_CSRF_ENABLED=False)
    yield app
    get_database(app).dispose()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    """A test client of the store."""
    return app.test_client()


def basic(user: str = "admin", password: str = ADMIN_PASSWORD) -> dict[str, str]:
    """An HTTP Basic header."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


ADMIN = basic()
SERVICE = {"Authorization": f"Bearer {SERVICE_TOKEN}"}


def create_album(
    app: Flask,
    *,
    title: str = "Test Album",
    artist: str = "Test Artist",
    genre: str = "Rock",
    year: int = 2020,
    price: str = "12.99",
    stock: int = 10,
    cover: bool = False,
) -> int:
    """Put one album in the catalog and return its id."""
    with app.app_context(), get_database(app).transaction() as session:
        name = generate_cover(title, artist, app.config["SETTINGS"].covers_dir) if cover else None
        album = Album(title=title, artist=artist, genre=genre, year=year, price=Decimal(price), stock=stock, cover=name)
        session.add(album)
        session.flush()
        return album.id


def album_stock(app: Flask, album_id: int) -> int | None:
    """An album's stock as the database has it now."""
    with app.app_context():
        album = get_database(app).session.get(Album, album_id)
        return None if album is None else album.stock
