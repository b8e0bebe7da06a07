"""`musicstore up`'s PostgreSQL ends sessions that sat idle (#16: a burst's idle backends held the server's memory);
the store's pool and catalog version reader connect again, and every request is still answered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from musicstore.common.db import get_database
from musicstore.common.embedded_pg import EmbeddedPostgres
from musicstore.common.migrate import upgrade
from musicstore.store import MIGRATIONS, create_app
from tests.conftest import embedded_server, new_database
from tests.store.conftest import create_album, store_settings
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow  # each test waits for the server to end sessions

IDLE_SECONDS = 2  # long enough that a session just used is still there when it is counted


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedPostgres]:
    """A server of its own that ends sessions idle for IDLE_SECONDS."""
    with embedded_server(idle_session_seconds=IDLE_SECONDS) as started:
        yield started


def client_sessions(server: EmbeddedPostgres, database: str) -> set[int]:
    """The backend pids of the client sessions on `database` now, the one asking left out."""
    with server._connect("postgres") as watcher:
        rows = watcher.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend' "
            "AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return {pid for (pid,) in rows}


def wait_until_ended(server: EmbeddedPostgres, database: str, pids: set[int]) -> None:
    """Until none of these sessions is left (bounded)."""

    def _ended() -> None:
        assert not pids & client_sessions(server, database)

    eventually(_ended, timeout=20)


def test_a_session_idle_longer_than_the_timeout_is_ended_by_the_server(server: EmbeddedPostgres) -> None:
    idle = server._connect("postgres")
    try:
        wait_until_ended(server, "postgres", {idle.info.backend_pid})
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
        client = app.test_client()
        for _ in range(2):  # the version reader's and the pool's sessions, used, left idle and ended, twice
            assert client.get(f"/api/album/{album_id}").status_code == 200
            assert client.get("/api/albums?q=idle").get_json()["total"] == 1
            used = client_sessions(server, "idle_store")
            assert used
            wait_until_ended(server, "idle_store", used)
        assert client.get("/readyz").status_code == 200
    finally:
        get_database(app).dispose()
