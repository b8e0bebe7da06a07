"""A peer service of a test's own: answers each path with the status a test chose, and records User-Agents."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server

from tests.support.servers import serving


class Peer:
    """A WSGI app: `statuses` maps a path to the statuses of its next answers (200 once they run out)."""

    def __init__(self) -> None:
        self.statuses: dict[str, list[int]] = {}
        self.user_agents: list[str] = []
        self.hold = threading.Event()  # paths under /hold/ wait for it (bounded), so a caller times out
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Record the caller, then answer with the next status of the path."""
        path = environ["PATH_INFO"]
        with self._lock:
            self.user_agents.append(environ.get("HTTP_USER_AGENT", ""))
            queued = self.statuses.get(path)
            status = queued.pop(0) if queued else 200
        if path.startswith("/hold/"):
            self.hold.wait(10)
        body = {"items": [], "status": "ok"} if status < 400 else {"error": f"peer answers {status}"}
        start_response(f"{status} Peer", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]


@contextmanager
def running_peer() -> Iterator[tuple[Peer, str]]:
    """A Peer on a free loopback port for the block; its held answers are let go at the end."""
    peer = Peer()
    with serving(make_server("127.0.0.1", 0, peer, threaded=True)) as url:
        try:
            yield peer, url
        finally:
            peer.hold.set()
