"""The store's PostgreSQL stopped and started again: 503 meanwhile, and it recovers without a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from musicstore.common.db import get_database
from musicstore.common.embedded_pg import EmbeddedPostgres
from musicstore.common.migrate import upgrade
from musicstore.store import MIGRATIONS, create_app
from tests.conftest import embedded_server
from tests.store.conftest import store_settings

pytestmark = pytest.mark.slow


@pytest.fixture()
def own_server() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of this test alone, since the test stops it."""
    with embedded_server("musicstore-test-outage-") as server:
        yield server


def test_with_the_database_down_the_store_answers_503_and_recovers_once_it_is_back(
    own_server: EmbeddedPostgres, data_dir: Path
) -> None:
    own_server.create_database("outage_store")
    url = own_server.url("outage_store")
    upgrade(MIGRATIONS, url)
    app = create_app(store_settings(url, data_dir))
    client = app.test_client()
    try:
        _outage_and_recovery(own_server, client)
    finally:
        get_database(app).dispose()


def _outage_and_recovery(own_server: EmbeddedPostgres, client: FlaskClient) -> None:
    assert client.get("/api/albums").status_code == 200
    own_server.stop()
    down = client.get("/api/albums")
    assert down.status_code == 503 and "database" in down.get_json()["error"] and down.headers["Retry-After"]
    started = time.monotonic()
    assert client.get("/healthz").status_code == 200 and time.monotonic() - started < 1
    assert client.get("/readyz").status_code == 503
    page = client.get("/")
    assert page.status_code == 503 and b"Traceback" not in page.data
    own_server.start()
    assert client.get("/api/albums").status_code == 200  # the same process, reconnected
    assert client.get("/readyz").status_code == 200
