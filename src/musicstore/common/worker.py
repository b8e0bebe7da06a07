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
import time
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

# Seconds a worker with every thread busy leaves new connections to the others: enough for an idle worker, which
# waits on the socket, to take one; short, since when every worker is busy each connection waits for it (of wrk's 64
# connections opened at once, 48 wait for two busy workers: the last is taken after about 24 ms with this).
BUSY_GRACE = 0.001


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
    """gunicorn's gthread worker whose own error answers are JSON, and which leaves a new connection to another
    worker for a moment while every thread of its own is busy.

    Every worker of a service waits on the same listening socket, and whichever wakes first accepts: gthread's
    takes every connection that is waiting, so one worker would take all of a client's kept-alive connections
    (a load generator's, a proxy's) and serve them on one core while the other workers idle (measured: the
    album API at 555 requests/s on one worker of two, 1,094-1,174 spread over both). A worker with every thread busy
    stops listening for BUSY_GRACE, so a worker with a thread free takes the connection; after it, the busy
    worker takes one too (then waits again), so when every worker is busy no connection waits unaccepted for
    long: it queues for a thread as under gthread. A worker that is stopped takes none, as before.
    """

    in_flight = 0  # requests handed to the thread pool and not yet finished (counted on the main thread)
    busy_since = 0.0  # when this worker last stopped listening because every thread was busy

    def init_process(self) -> None:
        """Use the JSON error writer in this worker process, then run as gthread does."""
        util.write_error = write_json_error
        super().init_process()

    def set_accept_enabled(self, enabled: bool) -> None:
        """Take new connections while running, unless every thread is busy and the grace has not passed (gthread
        asks on every turn of its loop, which turns whenever a request finishes)."""
        super().set_accept_enabled(enabled and self.alive and self._may_take())

    def _may_take(self) -> bool:
        if self.in_flight < self.cfg.threads:
            return True
        now = time.monotonic()
        if self._accepting:  # it was listening: a busy spell begins, idle workers go first for the grace
            self.busy_since = now
            return False
        return now - self.busy_since >= BUSY_GRACE

    def enqueue_req(self, conn: Any) -> None:
        """Hand a request to a thread; with none left free, stop taking connections for a moment."""
        self.in_flight += 1
        super().enqueue_req(conn)
        self._accept_if_free()

    def finish_request(self, conn: Any, fs: Any) -> None:
        """A thread is done with a request: take connections again if one is free."""
        self.in_flight -= 1
        super().finish_request(conn, fs)
        self._accept_if_free()

    def _accept_if_free(self) -> None:
        self.set_accept_enabled(self.nr_conns < self.worker_connections)
