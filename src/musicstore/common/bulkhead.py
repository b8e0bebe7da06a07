"""Bulkheads: a bound on how many requests of a process may wait on one downstream at a time.

A slow or stalled downstream then ties up only that many threads; the requests that do not need it
keep their normal latency, and a request beyond the bound fails soon with a clear 503 (and
Retry-After) instead of queueing behind the stalled ones (DESIGN.md, Reliability). Under ordinary
load a slot frees within milliseconds, so a request may wait a short bounded time for one: a burst
is served, not refused, while a stall (slots held for seconds) still refuses within that bound.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, Response, current_app

from musicstore.common.errors import ApiError, error_response

log = logging.getLogger(__name__)


class Busy(ApiError):
    """Every slot of a bulkhead is taken: answered 503 with Retry-After."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message, 503)
        self.retry_after = retry_after


class Bulkhead:
    """At most `limit` holders at once; one more waits at most `wait` seconds for a slot, then is refused."""

    def __init__(self, name: str, limit: int, busy_message: str, wait: float = 0.0) -> None:
        self.name = name
        self.limit = limit
        self.busy_message = busy_message
        self.wait = wait
        self._slots = threading.BoundedSemaphore(limit)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the block, or raise Busy when none frees within the wait."""
        got = self._slots.acquire(timeout=self.wait) if self.wait > 0 else self._slots.acquire(blocking=False)
        if not got:
            log.warning("bulkhead %s full (%d in use): refusing a request", self.name, self.limit)
            raise Busy(self.busy_message)
        try:
            yield
        finally:
            self._slots.release()


def init_bulkheads(app: Flask, *bulkheads: Bulkhead) -> None:
    """Bind the service's bulkheads to the app, and answer Busy as a 503 with Retry-After."""
    app.extensions["bulkheads"] = {bulkhead.name: bulkhead for bulkhead in bulkheads}

    @app.errorhandler(Busy)
    def _busy(exc: Busy) -> Response:
        response = error_response(exc.message, exc.status)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response


def bulkhead(name: str) -> Bulkhead:
    """The running app's bulkhead of this name."""
    found: Bulkhead = current_app.extensions["bulkheads"][name]
    return found
