"""The embedded PostgreSQL runs with a small demo server's settings (#16: the idle stack's memory)."""

from __future__ import annotations

import pytest

from musicstore.common.embedded_pg import EmbeddedPostgres


@pytest.mark.parametrize(
    ("setting", "value"),
    [("shared_buffers", "32MB"), ("io_method", "sync"), ("jit", "off"), ("max_logical_replication_workers", "0")],
)
def test_the_embedded_server_runs_with_the_small_server_settings(
    pg_server: EmbeddedPostgres, setting: str, value: str
) -> None:
    with pg_server._connect("postgres") as connection:
        shown = connection.execute(f"SHOW {setting}").fetchone()
    assert shown == (value,)


def test_the_embedded_server_starts_no_io_worker_processes(pg_server: EmbeddedPostgres) -> None:
    with pg_server._connect("postgres") as connection:
        found = connection.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'io worker'").fetchone()
    assert found == (0,)


def test_the_embedded_server_starts_no_logical_replication_launcher(pg_server: EmbeddedPostgres) -> None:
    with pg_server._connect("postgres") as connection:
        found = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'logical replication launcher'"
        ).fetchone()
    assert found == (0,)


def test_the_server_keeps_idle_sessions_unless_told_otherwise(pg_server: EmbeddedPostgres) -> None:
    with pg_server._connect("postgres") as connection:
        assert connection.execute("SHOW idle_session_timeout").fetchone() == ("0",)
