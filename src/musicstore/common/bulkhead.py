"""Bulkheads: a bound on how many requests of a process may wait on one downstream at a time.

A slow or stalled downstream then ties up only that many threads; the requests that do not need it
keep their normal latency, and a request beyond the bound fails soon with a clear 503 (and
Retry-After) instead of queueing behind the stalled ones (DESIGN.md, Reliability). Under ordinary
load a slot frees within milliseconds, so a request may wait for one: it goes on waiting while the
holders keep finishing (a busy downstream: slots freed one after another), up to a bound, and is
refused once no slot has been freed for `wait` seconds (a stall: slots held for seconds). Judged by
the wait alone, a downstream that was only busy (every core of a small machine taken by a load run)
looked stalled: shoppers were told the store could not be reached while it answered every call.
"""

from __future__ import annotations

import logging
import threading
import time
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
    """At most `limit` holders at once. One more waits for a slot while slots keep being freed (one at least every
    `wait` seconds), `max_wait` seconds at most (by default `wait`: a fixed wait), then is refused."""

    def __init__(
        self, name: str, limit: int, busy_message: str, wait: float = 0.0, max_wait: float | None = None
    ) -> None:
        self.name = name
        self.limit = limit
        self.busy_message = busy_message
        self.wait = wait
        self.max_wait = wait if max_wait is None else max(wait, max_wait)
        self._free = limit
        self._freed_at = time.monotonic()  # when a holder last gave its slot back
        self._changed = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the block, or raise Busy when none frees in time."""
        self._take()
        try:
            yield
        finally:
            with self._changed:
                self._free += 1
                self._freed_at = time.monotonic()
                self._changed.notify()

    def refused_at(self, arrived: float, freed_at: float) -> float:
        """When a request that arrived at `arrived` is refused, the last slot having been freed at `freed_at`: not
        before its `wait`, later while slots keep being freed, never past its `max_wait`."""
        return min(arrived + self.max_wait, max(arrived + self.wait, freed_at + self.wait))

    def _take(self) -> None:
        arrived = time.monotonic()
        with self._changed:
            while self._free == 0:
                left = self.refused_at(arrived, self._freed_at) - time.monotonic()
                if left <= 0:
                    log.warning("bulkhead %s full (%d in use): refusing a request", self.name, self.limit)
                    raise Busy(self.busy_message)
                self._changed.wait(left)
            self._free -= 1


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
