"""A worker forked from a process whose pool made connections starts a pool of its own; otherwise it keeps it."""

from __future__ import annotations

from pathlib import Path

from musicstore.common.db import Database


def test_a_pool_that_made_no_connection_before_the_fork_is_kept(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'kept.db'}")
    pool = database.engine.pool
    database.drop_inherited_connections()
    assert database.engine.pool is pool


def test_a_pool_that_made_a_connection_before_the_fork_is_replaced(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'replaced.db'}")
    assert database.ping()
    pool = database.engine.pool
    database.drop_inherited_connections()
    assert database.engine.pool is not pool
    assert database.ping()
    database.engine.dispose()
