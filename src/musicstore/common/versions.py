"""A version number in a service's database, read cheaply before every cached answer.

A cache of whole answers (the store's catalog, the order list) is served only while a one-row version table that
triggers move in the same transaction as every change it covers still holds the number the answer was made at.
The version is read at the start of every cached request: over a few driver connections of its own in autocommit
mode (each read sees the latest commit), without a pre-ping or a reset on return, on the driver's own cursor, so one
round trip, and shared by the worker's threads that ask at about the same time (musicstore.common.shared_read: never a
read that began before the request). When it cannot be read (the database away, a schema not migrated this far),
the caller answers uncached.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Protocol

from flask import Response, make_response, request
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from musicstore.common.db import PING_AFTER_IDLE, Database, database_node
from musicstore.common.metrics import Metrics
from musicstore.common.shared_read import SharedRead

# Reads are shared (at most two or three under way in a worker at once), so a few kept connections serve every
# thread; more would be opened and closed again in a burst, and PostgreSQL starts a backend for each.
POOL_SIZE = 3


class VersionReader:
    """Reads one version number (`sql`) over connections of its own (made again in a forked worker: no shared sockets).

    The connections are the driver's own, kept in a queue (at most POOL_SIZE idle): the engine only opens them. A
    pool's check-out and check-in of each (events, a wrapper for the connection and one for its cursor) cost a third
    as much as the read itself, on every cached request."""

    def __init__(self, url: str, metrics: Metrics, service: str, sql: str) -> None:
        self.url, self.sql = url, sql
        self.statements = metrics.db_queries.labels(database_node(url, service), "ok")
        self._engine: Engine | None = None
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pid = 0
        self._lock = threading.Lock()
        self.read = SharedRead(self._read_now)

    def engine(self) -> Engine:
        """This process's engine, which opens the connections: autocommit (each read sees the latest commit)."""
        with self._lock:
            if self._engine is None or self._pid != os.getpid():
                if self._engine is not None:
                    self._engine.dispose(close=False)  # the parent's connections stay the parent's
                    _INHERITED.append(self._idle)  # never used here, nor closed (closing would end the parent's)
                    self._idle = queue.SimpleQueue()
                sqlite = self.url.startswith("sqlite")
                connect_args: dict[str, Any] = {"timeout": 15, "check_same_thread": False} if sqlite else {
                    "connect_timeout": 5
                }  # fmt: skip
                self._engine = create_engine(
                    self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args=connect_args
                )
                self._pid = os.getpid()
            return self._engine

    def _read_now(self) -> int | None:
        """The version now; None when it cannot be read: the request is then answered uncached.

        A kept connection that sat unused PING_AFTER_IDLE or longer may have been ended by the server meanwhile (an
        idle-session timeout, a restart): when its read finds it ended, the read is made again at once on a new
        connection. Any other failure, or one of a connection used within the last second (the server went away
        just now), is not tried again."""
        engine = self.engine()
        try:
            connection, idle_since = self._idle.get_nowait()
        except queue.Empty:
            return self._read_on(self._open(engine), engine.dialect)[0]
        idled = time.monotonic() - idle_since
        version, ended = self._read_on(connection, engine.dialect)
        if ended and idled >= PING_AFTER_IDLE:
            return self._read_on(self._open(engine), engine.dialect)[0]
        return version

    @staticmethod
    def _open(engine: Engine) -> Any:
        """A new driver connection, or None when none can be made now (the database is away)."""
        try:
            opened = engine.raw_connection()
        except (DBAPIError, engine.dialect.loaded_dbapi.Error):
            return None
        connection = opened.driver_connection
        opened.detach()  # the engine's pool lets go of it: it is this reader's now
        return connection

    def _read_on(self, connection: Any, dialect: Dialect) -> tuple[int | None, bool]:
        """Read the version over this connection and keep it: (the version, False); (None, whether the connection
        was found ended) when there is no connection or the read failed."""
        if connection is None:
            return None, False
        driver_error = dialect.loaded_dbapi.Error
        try:
            cursor = connection.cursor()
            cursor.execute(self.sql)
            row = cursor.fetchone()
            cursor.close()
        except driver_error as exc:
            ended = dialect.is_disconnect(exc, connection, None)
            _close(connection, driver_error)  # a broken connection (the database restarted) is not used again
            return None, ended
        with self._lock:  # the count and the put together: never more than POOL_SIZE kept
            keep = self._idle.qsize() < POOL_SIZE
            if keep:
                self._idle.put((connection, time.monotonic()))
        if not keep:  # a burst opened more than are kept
            _close(connection, driver_error)
        self.statements.inc()
        return (None if row is None else int(row[0])), False

    def dispose(self) -> None:
        """Close this process's connections."""
        if self._engine is None or self._pid != os.getpid():
            return
        error = self._engine.dialect.loaded_dbapi.Error
        while True:
            try:
                _close(self._idle.get_nowait()[0], error)
            except queue.Empty:
                return


# Queues of connections a forked process inherited from its parent, kept from the garbage collector: closing one
# would end the parent's session on the server.
_INHERITED: list[queue.SimpleQueue[Any]] = []


def _close(connection: Any, driver_error: type[Exception]) -> None:
    with suppress(driver_error):  # already broken: closing it is all that is left to do
        connection.close()


class VersionedDatabase(Database):
    """A service's database with a version reader: its disposal closes the reader's connections too."""

    reader: VersionReader | None = None

    def dispose(self) -> None:
        """Close every pooled connection, the version reader's included."""
        super().dispose()
        if self.reader is not None:
            self.reader.dispose()


class KeptAnswer(Protocol):
    """An answer a cache kept: its body and type."""

    @property
    def body(self) -> bytes:
        """The answer's bytes."""

    @property
    def mimetype(self) -> str:
        """The answer's content type."""


class VersionedAnswers(Protocol):
    """Whole answers kept by key, each served only at the version it was made at."""

    def get(self, key: str, version: int) -> KeptAnswer | None:
        """The answer kept for this key, if it was made at this version (and is still good to serve)."""

    def put(self, key: str, version: int, body: bytes, mimetype: str) -> None:
        """Keep an answer made at this version."""


def answer_at(
    version: int,
    cache: VersionedAnswers,
    outcomes: Any,
    view: Callable[[], Any],
    keep: Callable[[Response], bool] = lambda _response: True,
) -> Response:
    """This request's answer (by path and query) as kept at this version, else the view's, kept when it is a
    whole 200 that `keep` allows. `outcomes` is the cache's counter of hits and misses (labelled by outcome).

    The version was read before the view runs: data newer than the label only makes a later request miss."""
    key = request.full_path
    found = cache.get(key, version)
    if found is not None:
        outcomes.labels("hit").inc()
        return Response(found.body, mimetype=found.mimetype)
    outcomes.labels("miss").inc()
    response = make_response(view())
    if response.status_code == 200 and not response.direct_passthrough and keep(response):
        cache.put(key, version, response.get_data(), response.mimetype or "application/octet-stream")
    return response
