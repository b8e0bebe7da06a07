"""`musicstore up`'s PostgreSQL ends sessions that sat idle (#16: a burst's idle backends held the server's memory);
the store's pool and catalog version reader connect again, and every request is still answered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask.testing import FlaskClient

from musicstore.common.db import get_database
from musicstore.common.embedded_pg import EmbeddedPostgres
from musicstore.common.migrate import upgrade
from musicstore.store import MIGRATIONS, create_app
from tests.conftest import embedded_server, new_database
from tests.store.conftest import create_album, store_settings
from tests.support.waiting import eventually

IDLE_SECONDS = 1


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedPostgres]:
    """A server of its own that ends sessions idle for a second."""
    with embedded_server(idle_session_seconds=IDLE_SECONDS) as started:
        yield started


def sessions_of(server: EmbeddedPostgres, database: str) -> int:
    """Client sessions on `database` now, the one asking not counted."""
    with server._connect("postgres") as watcher:
        row = watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (database,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_session_idle_longer_than_the_timeout_is_ended_by_the_server(server: EmbeddedPostgres) -> None:
    idle = server._connect("postgres")
    try:
        assert sessions_of(server, "postgres") == 1
        eventually(lambda: _assert_equal(sessions_of(server, "postgres"), 0), timeout=15)
        with pytest.raises(psycopg.OperationalError):
            idle.execute("SELECT 1")
    finally:
        idle.close()


def test_the_store_answers_every_request_after_the_server_ended_its_idle_sessions(
    server: EmbeddedPostgres, tmp_path: Path
) -> None:
    url = new_database(server, "idle_store")
    upgrade(MIGRATIONS, url)
    app = create_app(store_settings(url, tmp_path), TESTING=True, WTF_CSRF_ENABLED=False)
    try:
        album_id = create_album(app, title="Idle Hours", stock=3)
        client: FlaskClient = app.test_client()
        for _ in range(2):  # the cache's version reader's session and the pool's, used then left idle
            assert client.get(f"/api/album/{album_id}").status_code == 200
            assert client.get("/api/albums?q=idle").get_json()["total"] == 1
            assert sessions_of(server, "idle_store") >= 1
            eventually(lambda: _assert_equal(sessions_of(server, "idle_store"), 0), timeout=15)
        assert client.get("/readyz").status_code == 200
    finally:
        get_database(app).dispose()


def test_the_server_keeps_idle_sessions_unless_told_otherwise(pg_server: EmbeddedPostgres) -> None:
    with pg_server._connect("postgres") as connection:
        assert connection.execute("SHOW idle_session_timeout").fetchone() == ("0",)


def _assert_equal(found: int, expected: int) -> None:
    assert found == expected
