"""A fake store for the order service's stock returns: records what it is sent, answers what a test says."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import make_server

from tests.support.servers import serving


@dataclass(frozen=True)
class Call:
    """One request the fake store received."""

    method: str
    path: str
    body: Any
    authorization: str
    user_agent: str


class FakeStore:
    """A WSGI app answering POST /api/stock/return with `status` (200 unless told otherwise)."""

    def __init__(self) -> None:
        self.url = ""
        self.calls: list[Call] = []
        self.status = 200
        self.hold: threading.Event | None = None  # when set to an Event, each answer waits for it (bounded)
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Record the call, then answer it."""
        size = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(size) if size else b""
        call = Call(
            method=environ["REQUEST_METHOD"],
            path=environ["PATH_INFO"],
            body=json.loads(raw) if raw else None,
            authorization=environ.get("HTTP_AUTHORIZATION", ""),
            user_agent=environ.get("HTTP_USER_AGENT", ""),
        )
        with self._lock:
            self.calls.append(call)
            status = self.status
        if self.hold is not None:
            self.hold.wait(10)
        answer = {"reservation_id": (call.body or {}).get("reservation_id"), "status": "returned", "items": []}
        if status != 200:
            answer = {"error": f"fake store answers {status}"}
        start_response(f"{status} Fake", [("Content-Type", "application/json")])
        return [json.dumps(answer).encode()]

    def returns(self) -> list[str]:
        """The reservation ids of every return received, in order."""
        with self._lock:
            return [c.body["reservation_id"] for c in self.calls if c.path == "/api/stock/return"]


@contextmanager
def fake_store_on(port: int, store: FakeStore) -> Iterator[str]:
    """Serve the fake store on a loopback port (0: any free one) for the block; yield its URL."""
    with serving(make_server("127.0.0.1", port, store, threaded=True)) as url:
        yield url
