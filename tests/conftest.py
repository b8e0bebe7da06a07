"""Fixtures every test may use: a real PostgreSQL server (embedded) for the whole run."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from musicstore.common.embedded_pg import EmbeddedPostgres, free_port


@contextmanager
def embedded_server(prefix: str = "musicstore-test-pg-", **options: Any) -> Iterator[EmbeddedPostgres]:
    """A real PostgreSQL server on a free port, for the block.

    Its folder is made directly under the system's temporary folder, not pytest's: as root the server
    runs as another user, who must be able to reach it, and pytest makes its own folder private.
    """
    root = Path(tempfile.mkdtemp(prefix=prefix))
    server = EmbeddedPostgres(
        root / "data", port=free_port(), user="music_user", password=secrets.token_hex(12), **options
    )
    try:
        with (root / "postgres.log").open("wb") as log:
            server.start(output=log)
            yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedPostgres]:
    """A real PostgreSQL server for the whole test run."""
    with embedded_server() as server:
        yield server


@pytest.fixture()
def shared_tmp() -> Iterator[Path]:
    """A temporary folder another user can reach (for a PostgreSQL started by the code under test)."""
    root = Path(tempfile.mkdtemp(prefix="musicstore-test-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


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


@pytest.fixture(autouse=True, scope="session")
def _no_trace_export_from_the_developers_shell() -> Iterator[None]:
    """Tests choose tracing themselves: an OTLP endpoint set in the shell would start the SDK in-process."""
    saved = {name: os.environ.pop(name) for name in list(os.environ) if name.startswith("OTEL_")}
    yield
    os.environ.update(saved)
