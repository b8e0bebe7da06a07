"""Work each serving process starts for itself: background threads, file watchers, the tracing SDK.

gunicorn loads the app once in its master (`--preload`) and forks the workers from it, so they share the
imported code's memory. Whatever starts a thread, opens a connection or watches a file must then start in
each worker after the fork, not in the master: a thread does not survive a fork, and a connection or pool
made before it would be shared by every worker. So create_app hands such work to `in_each_process`, which:

- in the master of a preloading gunicorn, keeps it; each worker runs it right after its fork
  (musicstore.gunicorn_config.post_fork calls `after_fork`);
- anywhere else (Flask's test client, a script, a gunicorn worker that loads the app itself), runs it at once,
  as create_app did before.

The master is told apart by gunicorn's own mark: its arbiter sets SERVER_SOFTWARE (`gunicorn/<version>`) in
its process before it loads the app, and `after_fork` clears the deferral in each worker. A process that is
neither is never deferred, so nothing is left waiting for a fork that never comes. This is why the app must
run under musicstore's gunicorn configuration (`musicstore serve` and `up` always use it).

Work that one process of a service is enough for (a sweep of the service's own database) goes to
`in_one_process` instead: of a master's workers, the first to take a lock the master opened for it runs it, and
when that worker ends, another takes the lock and runs it. Each worker that runs such work keeps the pages the
work touches for itself (the ORM's and the driver's objects, written by reference counting): 6-8 MB per worker
of the idle cart's and order service's memory.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Start = Callable[[], object]

_forked = False  # set in a gunicorn worker after its fork: from then on, work starts at once
_waiting: list[tuple[str, Start]] = []
_lock = threading.Lock()


def in_gunicorn_master() -> bool:
    """True in a gunicorn master before it forks (its workers are to start the work, not it)."""
    # SERVER_SOFTWARE is not a setting: gunicorn sets it in its own environment, saying where the code runs.
    return not _forked and os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/")


def in_each_process(name: str, start: Start) -> None:
    """Run `start` in each serving process: now, or in each worker after the fork (in a gunicorn master)."""
    with _lock:
        if in_gunicorn_master():
            _waiting.append((name, start))
            return
    start()


def in_one_process(name: str, start: Start) -> None:
    """Run `start` in one serving process at a time: now, or, in a gunicorn master, in one of its workers (the
    first to take the lock made here; when it ends, the kernel frees its lock and another worker takes it)."""
    with _lock:
        if in_gunicorn_master():
            turn, path = tempfile.mkstemp(prefix="musicstore-turn-")  # open for the master's life, inherited
            os.unlink(path)
            _waiting.append((name, lambda: _start_when_locked(name, start, turn)))
            return
    start()


def _start_when_locked(name: str, start: Start, turn: int) -> None:
    """In a worker: a thread waits for the lock (a POSIX record lock: held by one process, not inherited by a
    fork, freed when its process ends), then runs `start` in this process, which keeps the lock."""

    def _take_turn() -> None:
        fcntl.lockf(turn, fcntl.LOCK_EX)
        log.debug("process %d took %s over", os.getpid(), name)
        start()

    threading.Thread(target=_take_turn, name=f"turn for {name}", daemon=True).start()


def after_fork() -> None:
    """In a freshly forked worker: run the work the master kept, in the order it was given; later work at once."""
    global _forked
    with _lock:
        _forked = True
        waiting = list(_waiting)
    for name, start in waiting:
        log.debug("starting %s in process %d", name, os.getpid())
        start()


def waiting() -> list[str]:
    """The names of the work kept for the workers (what a master would hand them)."""
    with _lock:
        return [name for name, _ in _waiting]
