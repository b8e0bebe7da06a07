"""`musicstore serve store`: the store alone against a configured database, as a container runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from musicstore.common.embedded_pg import EmbeddedPostgres, free_port
from tests.conftest import new_database
from tests.support.live import LiveService

pytestmark = pytest.mark.slow


def serve_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"ADMIN_PASSWORD", "SECRET_KEY", "SERVICE_TOKEN"}}
    env.update({"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "var"), "MODE": "production"})
    env.update(extra)
    return env


def test_serve_store_migrates_seeds_and_serves_the_catalog(pg_server: EmbeddedPostgres, tmp_path: Path) -> None:
    url = new_database(pg_server, "serve_test")
    port = free_port()
    env = serve_env(tmp_path, url, SECRET_KEY="k", ADMIN_PASSWORD="p", SERVICE_TOKEN="t", PORT=str(port))
    service = LiveService("", port, env, tmp_path / "serve.log")
    log = (tmp_path / "serve.log").open("wb")
    service.process = subprocess.Popen(
        [sys.executable, "-m", "musicstore.cli", "serve", "store", "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        service._wait_healthy(60)
        assert requests.get(f"{service.url}/api/albums", timeout=5).json()["total"] >= 40
    finally:
        service.stop()
        log.close()


def test_serve_refuses_to_start_without_its_secrets(pg_server: EmbeddedPostgres, tmp_path: Path) -> None:
    url = new_database(pg_server, "serve_secretless")
    result = subprocess.run(
        [sys.executable, "-m", "musicstore.cli", "serve", "store", "--bind", f"127.0.0.1:{free_port()}"],
        env=serve_env(tmp_path, url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "missing required setting(s) SECRET_KEY, ADMIN_PASSWORD, SERVICE_TOKEN" in result.stdout + result.stderr
