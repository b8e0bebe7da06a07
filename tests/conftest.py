"""Fixtures every test may use: a real PostgreSQL server (embedded) for the whole run."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from musicstore.common.embedded_pg import EmbeddedPostgres, free_port


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A real PostgreSQL server on a free port, for the whole test run."""
    root = tmp_path_factory.mktemp("postgres")
    server = EmbeddedPostgres(root / "data", port=free_port(), user="music_user", password=secrets.token_hex(12))
    with (root / "postgres.log").open("wb") as log:
        server.start(output=log)
        yield server
        server.stop()


def new_database(server: EmbeddedPostgres, name: str) -> str:
    """Create a database on the test server and return its URL."""
    server.create_database(name)
    return server.url(name)


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    """A fresh data directory for one test."""
    path = tmp_path / "var"
    path.mkdir()
    return path
