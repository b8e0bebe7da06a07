"""The order list cache: `GET /api/orders` answered from memory, never missing a committed change.

Each worker process keeps its own small cache of whole answers (body and type), keyed by path and query. An answer
is served from it only while the orders' version is the one it was made at. The version is one number in the
database (orders_version, migration 0004) that triggers move on in the same transaction as any insert, update or
delete of an order or an order line, whoever makes it (this worker, another, a replica, an operator's SQL). It is
read at the start of every cached request, after the caller's credentials were checked, so a request that starts
after a change's commit never gets an answer from before it. An answer is filed under the version read before its
data: data newer than its label only makes a later request miss, never serve old data.

One read of the version replaces the count, the page and its lines (three statements, 20-100 orders turned into
JSON). It goes over a small pool of its own in autocommit mode, without a pre-ping or a ROLLBACK, on the driver's
own cursor: one round trip. When it cannot be read (a broken connection, a database not migrated yet), the request
is answered uncached. Lookups by idempotency key (the cart's, one key each) are never kept: they would only push
the admin's lists out.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, current_app, request

from musicstore.common.metrics import get_metrics
from musicstore.common.versions import VersionedDatabase, VersionReader, answer_at

View = TypeVar("View", bound=Callable[..., Any])
MAX_BYTES = 4 * 1024 * 1024  # per worker: a hundred full pages of 100 orders, thousands of default ones
VERSION_SQL = "SELECT version FROM orders_version WHERE id = 1"


@dataclass(frozen=True)
class Cached:
    """One answer kept: its body and type."""

    body: bytes
    mimetype: str


class AnswerCache:
    """Answers made at one orders version, least recently used first out, at most `max_bytes` of bodies."""

    def __init__(self, *, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._version: int | None = None
        self._answers: OrderedDict[str, Cached] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: str, version: int) -> Cached | None:
        """The answer kept for this key, if it was made at this version."""
        with self._lock:
            found = self._answers.get(key) if version == self._version else None
            if found is not None:
                self._answers.move_to_end(key)
            return found

    def put(self, key: str, version: int, body: bytes, mimetype: str) -> None:
        """Keep an answer made at this version; one made at another version empties the cache first."""
        if len(body) > self.max_bytes:
            return
        with self._lock:
            if version != self._version:
                # Any other version, older (a slow request) or newer, makes every kept answer unservable.
                self._answers.clear()
                self._bytes, self._version = 0, version
            old = self._answers.pop(key, None)
            self._bytes += len(body) - (len(old.body) if old else 0)
            self._answers[key] = Cached(body, mimetype)
            while self._bytes > self.max_bytes:
                _, dropped = self._answers.popitem(last=False)
                self._bytes -= len(dropped.body)


def init_cache(app: Flask, database: VersionedDatabase) -> None:
    """Give the app its order list cache and count its hits and misses."""
    database.reader = VersionReader(database.url, get_metrics(app), app.config["SERVICE_NAME"], VERSION_SQL)
    app.extensions["order_list_cache"] = AnswerCache()
    app.extensions["orders_version"] = database.reader
    app.extensions["order_list_cache_requests"] = get_metrics(app).counter(
        "order_list_cache_requests_total", "Order lists asked of the order list cache", ("outcome",)
    )


def cached(view: View) -> View:
    """Answer an order list from the cache while no order has changed since the kept answer was made."""

    @functools.wraps(view)
    def answer(*args: Any, **kwargs: Any) -> Any:
        if "idempotency_key" in request.args:
            return view(*args, **kwargs)
        version = current_app.extensions["orders_version"].read()
        if version is None:
            return view(*args, **kwargs)
        cache: AnswerCache = current_app.extensions["order_list_cache"]
        outcomes = current_app.extensions["order_list_cache_requests"]
        return answer_at(version, cache, outcomes, lambda: view(*args, **kwargs))

    return answer  # type: ignore[return-value]
