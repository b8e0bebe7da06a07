"""Database engine, request-scoped sessions and the one place that owns commit and rollback."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response, g
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

from musicstore.common import background
from musicstore.common.errors import error_response
from musicstore.common.metrics import Metrics, get_metrics

log = logging.getLogger(__name__)


MAX_ID = 2**31 - 1  # the largest id an INTEGER column holds
PING_AFTER_IDLE = 1.0  # seconds a pooled PostgreSQL connection may sit unused before it is checked again


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base; each service keeps its own metadata by subclassing it."""

    __abstract__ = True


def private_sqlite_file(path: Path) -> None:
    """Make a SQLite file (and its folder) private to this user before SQLite makes it: it holds names and e-mails.

    SQLite gives its -wal and -shm files the database file's permissions.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    path.chmod(0o600)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the pragmas and pool settings our rules ask for."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 15, "check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A server that is down or unreachable fails a request in seconds (503), not after the OS's TCP timeout.
    options: dict[str, Any] = {"pool_size": 10, "max_overflow": 10, "pool_timeout": 5} | kwargs
    engine = create_engine(url, connect_args={"connect_timeout": 5}, **options)
    _ping_after_idle(engine)
    return engine


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled connection with a round trip before use only when it sat unused PING_AFTER_IDLE or longer.

    SQLAlchemy's pool_pre_ping pings on every checkout: a round trip to the server before each request's first
    statement (a seventh of the store's reservation). A connection the server ended (a restart, an idle timeout)
    is found before use once it has idled; one used within the last second is handed out as it is, and if the
    server went away in that second its statement fails like any statement during an outage (503), and the pool
    is made afresh.
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)  # none on a new connection: just made, nothing to check
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("the pooled connection did not answer") from exc  # the pool connects anew


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL, a busy timeout and foreign keys on every SQLite connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """One engine per service, and one session per request."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.connected = False  # whether the pool has made a connection (before a fork: the parent's)
        event.listen(self.engine, "connect", self._on_first_connect, once=True)

    def init_app(self, app: Flask) -> None:
        """Close the request's session when the app context ends; a database that cannot be reached is a 503;
        every statement is counted on the app's metrics."""
        app.extensions["database"] = self
        # A pool made before a fork must not hand the parent's connections to a worker: each starts its own.
        background.in_each_process("database pool", self.drop_inherited_connections)
        count_queries(self.engine, database_node(self.url, app.config["SERVICE_NAME"]), get_metrics(app))
        app.teardown_appcontext(self._close_session)
        app.register_error_handler(OperationalError, _database_unavailable)
        app.register_error_handler(InterfaceError, _database_unavailable)
        app.register_error_handler(PoolTimeout, _database_unavailable)

    def drop_inherited_connections(self) -> None:
        """In a new worker: a new pool if this one made connections before the fork. The master's made none (a
        service prepares its database in a child of its own), and a new pool cost each worker 1-2 MB (#16)."""
        if self.connected:
            self.engine.dispose(close=False)

    def _on_first_connect(self, *_: object) -> None:
        self.connected = True

    @property
    def session(self) -> Session:
        """The session of the current app context, made on first use."""
        if "db_session" not in g:
            g.db_session = self.sessionmaker()
        session: Session = g.db_session
        return session

    @staticmethod
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit when the block succeeds, roll back when it raises."""
        session = self.session
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except OperationalError:
            return False

    def wait_until_ready(self, timeout: float = 30.0) -> None:
        """Wait for the database to accept connections, for at most `timeout` seconds."""

        @retry(
            retry=retry_if_exception_type(OperationalError),
            stop=stop_after_delay(timeout),
            wait=wait_exponential(multiplier=0.1, max=2),
            reraise=True,
            before_sleep=lambda state: log.info("waiting for the database (attempt %d)", state.attempt_number),
        )
        def _connect() -> None:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        _connect()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def database_node(url: str, service: str) -> str:
    """The database as the service map names it: "postgres" for PostgreSQL, "<service>-db" for a SQLite file."""
    return f"{service}-db" if url.startswith("sqlite") else "postgres"


_STARTED = "musicstore_query_started"


def count_queries(engine: Engine, db: str, metrics: Metrics) -> None:
    """Count and time every statement the engine runs (db_client_queries_total{db, outcome}, db_client_query_*).

    The engine's cursor events cost a clock read and a counter each; the start time rides on the connection's
    info, which one statement at a time uses. Pre-ping checks are the pool's, not the service's queries.
    """
    ok, error = metrics.db_queries.labels(db, "ok"), metrics.db_queries.labels(db, "error")
    latency = metrics.db_latency.labels(db)

    def _started(conn: Any, _cursor: Any, _statement: Any, _parameters: Any, _context: Any, _many: bool) -> None:
        conn.info[_STARTED] = time.perf_counter()

    def _finished(conn: Any, _cursor: Any, _statement: Any, _parameters: Any, _context: Any, _many: bool) -> None:
        started = conn.info.pop(_STARTED, None)
        ok.inc()
        if started is not None:
            latency.observe(time.perf_counter() - started)

    def _failed(context: ExceptionContext) -> None:
        if context.is_pre_ping:
            return
        started = context.connection.info.pop(_STARTED, None) if context.connection is not None else None
        error.inc()
        if started is not None:
            latency.observe(time.perf_counter() - started)

    event.listen(engine, "before_cursor_execute", _started)
    event.listen(engine, "after_cursor_execute", _finished)
    event.listen(engine, "handle_error", _failed)


def _database_unavailable(exc: Exception) -> Response:
    """The database is down, restarting or out of connections: a clear 503 the client may retry; the next
    request reconnects (the pool checks each connection before use), so no restart is needed."""
    log.error("database unavailable: %s", type(exc).__name__)
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
    response = error_response("The database is not available right now. Nothing was changed; please try again.", 503)
    response.headers["Retry-After"] = "5"
    return response


def get_database(app: Flask) -> Database:
    """The Database bound to an app."""
    database: Database = app.extensions["database"]
    return database
