"""gunicorn's threaded worker, with the error answers gunicorn writes itself in JSON like every other error.

gunicorn answers a request it cannot parse (414 for an over-long request line, 400 for a malformed request
line or header, ...) before any app sees it, with an HTML page, and offers no setting or hook for that body:
Worker.handle_error calls gunicorn.util.write_error, and nothing else does. This worker, in its own process,
has that function write JSON instead. The path is not known (the request line may be unreadable), so every
such answer is JSON: it is what API clients, health checks and scrapers need, and a person can read it too.
"""

from __future__ import annotations

import json
import socket

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """Write gunicorn's error answer as `{"error": ...}` and close the exchange (as gunicorn's own does)."""
    body = json.dumps({"error": mesg or reason}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


class JsonErrorWorker(ThreadWorker):
    """gunicorn's gthread worker whose own error answers are JSON."""

    def init_process(self) -> None:
        """Use the JSON error writer in this worker process, then run as gthread does."""
        util.write_error = write_json_error
        super().init_process()
