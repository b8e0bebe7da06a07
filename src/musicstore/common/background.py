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
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Start = Callable[[], object]

_forked = False  # set in a gunicorn worker after its fork: from then on, work starts at once
_waiting: list[tuple[str, Start]] = []
_lock = threading.Lock()


def in_gunicorn_master() -> bool:
    """True in a gunicorn master before it forks (its workers are to start the work, not it)."""
    return not _forked and os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/")


def in_each_process(name: str, start: Start) -> None:
    """Run `start` in each serving process: now, or in each worker after the fork (in a gunicorn master)."""
    with _lock:
        if in_gunicorn_master():
            _waiting.append((name, start))
            return
    start()


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
