"""A kept-alive connection the server closed as it was reused: a read is asked again, a write is not."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import requests

from musicstore.traffic.journey import retrying_adapter

Server = tuple[str, list[bytes]]  # its URL and the requests it read
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
BUSY = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\nContent-Length: 4\r\n\r\nbusy"


@pytest.fixture
def drops_the_first_request() -> Iterator[tuple[str, list[bytes]]]:
    """A loopback server that reads the first request and closes without an answer, then answers each."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []
    done = threading.Event()

    def serve() -> None:
        while True:
            conn, _ = listener.accept()
            if done.is_set():
                conn.close()
                return
            with conn:
                seen.append(conn.recv(65536))
                if len(seen) > 1:
                    conn.sendall(ANSWER)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/", seen
    done.set()
    socket.create_connection(listener.getsockname(), timeout=5).close()  # wakes the accept
    thread.join(timeout=5)
    listener.close()
    assert not thread.is_alive()


def session() -> requests.Session:
    """A session with the generator's adapter."""
    http = requests.Session()
    http.mount("http://", retrying_adapter())
    return http


def test_a_get_whose_connection_was_dropped_is_asked_once_more(drops_the_first_request: Server) -> None:
    url, seen = drops_the_first_request
    with session() as http:
        assert http.get(url, timeout=5).text == "ok"
    assert len(seen) == 2


def test_a_post_whose_connection_was_dropped_is_not_sent_again(drops_the_first_request: Server) -> None:
    url, seen = drops_the_first_request
    with session() as http, pytest.raises(requests.ConnectionError):
        http.post(url, data={"a": "1"}, timeout=5)
    assert len(seen) == 1


def test_a_503_with_retry_after_is_the_answer_at_once_not_a_wait_and_a_retry() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            seen.append(conn.recv(65536))
            conn.sendall(BUSY)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with session() as http:
            answer = http.get(f"http://127.0.0.1:{listener.getsockname()[1]}/", timeout=5)
        assert (answer.status_code, answer.headers["Retry-After"], len(seen)) == (503, "30", 1)
    finally:
        thread.join(timeout=5)
        listener.close()
