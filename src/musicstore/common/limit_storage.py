"""The rate limits' counts for "memory://": one count per key for all the processes of a server, in a SQLite file.

A service runs several gunicorn workers (WEB_WORKERS), and limits' own in-memory storage counts in each of them: a
limit of 10 a minute let 10 through each worker (20 with two), and an address one worker refused was let in by the
next. Here the storage the app makes (in the gunicorn master, which preloads the app) names a file in a new
temporary directory, and each process that counts (every worker, forked from the master) opens its own connection
to it: a fixed window's count is one row, moved in one statement. The directory goes when the process that made it
exits. Each server counts on its own, as before: replicas of a service (deploy/README.md) do not share a count
unless RATELIMIT_STORAGE_URI names a shared store (e.g. redis). Fixed windows only: the strategy of every limit
here (Flask-Limiter's default, and the log-in limit's).

The limits are brakes, not the shop's rules: when the file cannot be used (removed by a cleaner of the temporary
folder, locked for longer than LOCK_WAIT by something else), a connection makes the file and its table again, and
what still fails lets the request through with a warning in the log (musicstore.common.web, musicstore.common.auth)
rather than answering 500.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from limits.storage import Storage

SCHEME = "musicstore-server"
SWEEP_EVERY = 60.0  # seconds between deletions of expired counts (a read checks the expiry itself)
LOCK_WAIT = 1.0  # seconds a count waits for another process's write before it gives up (the request goes through)

CREATE = "CREATE TABLE IF NOT EXISTS counts (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expiry REAL NOT NULL)"
# A count whose window has ended starts again at `amount`, with a new window; otherwise it grows in its window.
INCR = """
INSERT INTO counts (key, count, expiry) VALUES (:key, :amount, :until)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN expiry <= :now THEN :amount ELSE count + :amount END,
    expiry = CASE WHEN expiry <= :now THEN :until ELSE expiry END
RETURNING count
"""
LIVE = "SELECT count, expiry FROM counts WHERE key = ? AND expiry > ?"

_INHERITED: list[sqlite3.Connection] = []  # a parent's connections a forked child holds: never used, nor closed


class ServerStorage(Storage):
    """limits' storage for fixed windows, shared by the processes of one server through a SQLite file.

    `musicstore-server://` makes a new file (removed when the process that made it exits);
    `musicstore-server:///path/to/file` uses that one."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions, **options)
        given = urlsplit(uri).path if uri else ""
        if given:
            self.path = Path(given)
        else:
            directory = Path(tempfile.mkdtemp(prefix="musicstore-limits-"))
            self.path = directory / "counts.sqlite"
            atexit.register(_remove, directory, os.getpid())
        _open(self.path).close()  # made here, before any fork: the master never counts, its workers open their own
        self.clock = time.time  # limits' expiries are wall-clock times
        self._lock = threading.Lock()
        self._pid = 0
        self._connection: sqlite3.Connection | None = None
        self._next_sweep = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        """What a failing count raises (wrapped by limits when asked to)."""
        return sqlite3.Error

    def _db(self) -> sqlite3.Connection:
        """This process's connection, under self._lock: a forked worker opens its own (none crosses a fork)."""
        if self._pid != os.getpid() or self._connection is None:
            if self._connection is not None and self._pid != os.getpid():
                _INHERITED.append(self._connection)
            self._connection = None
            self._connection = _open(self.path)
            self._pid = os.getpid()
        return self._connection

    def _run(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        """One statement, under self._lock; a connection that fails is dropped, so the next opens the file again."""
        try:
            return self._db().execute(sql, parameters)
        except sqlite3.Error:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None
            raise

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add `amount` to the key's count in its window (a new window of `expiry` seconds once the last ended)."""
        now = self.clock()
        with self._lock:
            if now >= self._next_sweep:
                self._next_sweep = now + SWEEP_EVERY
                self._run("DELETE FROM counts WHERE expiry <= ?", (now,))
            (count,) = self._run(INCR, {"key": key, "amount": amount, "until": now + expiry, "now": now}).fetchone()
        return int(count)

    def get(self, key: str) -> int:
        """The key's count in its window (0 when it has none)."""
        row = self._live(key)
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        """When the key's window ends (now when it has none)."""
        row = self._live(key)
        return float(row[1]) if row else self.clock()

    def _live(self, key: str) -> tuple[int, float] | None:
        with self._lock:
            row: tuple[int, float] | None = self._run(LIVE, (key, self.clock())).fetchone()
        return row

    def check(self) -> bool:
        """True while the file can be read."""
        try:
            with self._lock:
                self._run("SELECT 1")
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        """Forget every count; how many there were."""
        with self._lock:
            return self._run("DELETE FROM counts").rowcount

    def clear(self, key: str) -> None:
        """Forget one key's count."""
        with self._lock:
            self._run("DELETE FROM counts WHERE key = ?", (key,))


def _open(path: Path) -> sqlite3.Connection:
    """A connection to the counts file, made (with its folder and table) when it is not there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=LOCK_WAIT, isolation_level=None, check_same_thread=False)
    try:
        connection.execute("PRAGMA journal_mode=WAL")  # counting in one process never waits for reads in another
        connection.execute("PRAGMA synchronous=OFF")  # the counts of a running server: nothing to keep on a crash
        connection.execute(CREATE)
    except sqlite3.Error:
        connection.close()
        raise
    return connection


def _remove(directory: Path, maker: int) -> None:
    """At exit of the process that made the file (a forked worker inherits this hook, and leaves it alone)."""
    if os.getpid() == maker:
        shutil.rmtree(directory, ignore_errors=True)


def storage_uri(configured: str) -> str:
    """The storage the limiter uses for a configured RATELIMIT_STORAGE_URI: the server's shared file for memory."""
    return f"{SCHEME}://" if configured.split("://", 1)[0] == "memory" else configured
