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
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, current_app, make_response, request
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import DBAPIError

from musicstore.common.db import Database, database_node
from musicstore.common.metrics import Metrics, get_metrics

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


class VersionReader:
    """Reads the orders' version over a pool of its own (made again in a forked worker: no shared sockets)."""

    def __init__(self, url: str, metrics: Metrics, service: str) -> None:
        self.url = url
        self.statements = metrics.db_queries.labels(database_node(url, service), "ok")
        self._engine: Engine | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def engine(self) -> Engine:
        """This process's pool: autocommit (each read sees the latest commit), no pre-ping, no reset on return."""
        with self._lock:
            if self._engine is None or self._pid != os.getpid():
                if self._engine is not None:
                    self._engine.dispose(close=False)  # the parent's connections stay the parent's
                sqlite = self.url.startswith("sqlite")
                connect_args: dict[str, Any] = {"timeout": 15, "check_same_thread": False} if sqlite else {
                    "connect_timeout": 5
                }  # fmt: skip
                self._engine = create_engine(
                    self.url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None, pool_size=4, max_overflow=8,
                    pool_timeout=1, connect_args=connect_args,
                )  # fmt: skip
                self._pid = os.getpid()
            return self._engine

    def read(self) -> int | None:
        """The version now; None when it cannot be read: the request is then answered uncached."""
        engine = self.engine()
        driver_error = engine.dialect.loaded_dbapi.Error
        try:
            connection = engine.raw_connection()
        except DBAPIError:  # no connection now (the database is away): uncached
            return None
        try:
            cursor = connection.cursor()
            cursor.execute(VERSION_SQL)
            row = cursor.fetchone()
            cursor.close()
        except driver_error:
            connection.invalidate()  # a broken connection is not handed out again
            return None
        finally:
            connection.close()
        self.statements.inc()
        return None if row is None else int(row[0])

    def dispose(self) -> None:
        """Close this process's connections."""
        if self._engine is not None:
            self._engine.dispose()


class OrdersDatabase(Database):
    """The orders database: its disposal closes the version reader's connections too."""

    reader: VersionReader | None = None

    def dispose(self) -> None:
        """Close every pooled connection, the version reader's included."""
        super().dispose()
        if self.reader is not None:
            self.reader.dispose()


def init_cache(app: Flask, database: OrdersDatabase) -> None:
    """Give the app its order list cache and count its hits and misses."""
    database.reader = VersionReader(database.url, get_metrics(app), app.config["SERVICE_NAME"])
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
        key, outcomes = request.full_path, current_app.extensions["order_list_cache_requests"]
        found = cache.get(key, version)
        if found is not None:
            outcomes.labels("hit").inc()
            return Response(found.body, mimetype=found.mimetype)
        outcomes.labels("miss").inc()
        response = make_response(view(*args, **kwargs))
        if response.status_code == 200 and not response.direct_passthrough:
            cache.put(key, version, response.get_data(), response.mimetype or "application/json")
        return response

    return answer  # type: ignore[return-value]
