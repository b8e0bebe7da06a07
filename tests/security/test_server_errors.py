"""gunicorn's own error answers (414 for an over-long request line, 400 for a malformed request) are JSON,
as every other error a client can cause; checked against a real gunicorn started as `musicstore serve` does."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from musicstore.common.embedded_pg import free_port
from tests.support.live import LiveService

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def orders_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The order service (SQLite) under gunicorn, started by `musicstore serve orders`."""
    root = tmp_path_factory.mktemp("server-errors")
    port = free_port()
    env = {
        **os.environ,
        "MODE": "production",
        "DATA_DIR": str(root / "var"),
        "SECRET_KEY": "k",
        "ADMIN_PASSWORD": "p",
        "SERVICE_TOKEN": "t",
        "ORDER_SERVICE_URL": f"http://127.0.0.1:{port}",
    }
    service = LiveService("", port, env, root / "orders.log")
    with (root / "orders.log").open("wb") as log:
        service.process = subprocess.Popen(
            [sys.executable, "-m", "musicstore.cli", "serve", "orders", "--bind", f"127.0.0.1:{port}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        service._wait_healthy(60)
        yield service
    finally:
        service.stop()


def raw_exchange(service: LiveService, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are, read the answer until the server closes: status, headers, body."""
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


def assert_json_error(headers: dict[str, str], body: bytes) -> None:
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    error = json.loads(body)["error"]
    assert isinstance(error, str) and error


@pytest.mark.parametrize("path", ["/api/orders?q=", "/healthz?q=", "/metrics?q="])
def test_an_over_long_request_line_is_a_json_414(orders_server: LiveService, path: str) -> None:
    response = requests.get(f"{orders_server.url}{path}{'a' * 10_000}", timeout=10)
    assert response.status_code == 414
    assert_json_error({k.lower(): v for k, v in response.headers.items()}, response.content)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /api/orders HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /api/orders HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
        b"G\x00T /api/orders HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
)
def test_a_malformed_request_is_a_json_400(orders_server: LiveService, request_bytes: bytes) -> None:
    status, headers, body = raw_exchange(orders_server, request_bytes)
    assert status == 400
    assert_json_error(headers, body)


def test_the_service_still_answers_normally_after_them(orders_server: LiveService) -> None:
    raw_exchange(orders_server, b"GARBAGE\r\n\r\n")
    assert requests.get(f"{orders_server.url}/healthz", timeout=5).status_code == 200
