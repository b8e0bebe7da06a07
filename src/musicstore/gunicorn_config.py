"""gunicorn's server hooks for every service: `musicstore serve` and `up` run gunicorn with this module as its
configuration (`--config python:musicstore.gunicorn_config`); the options themselves are on the command line
(musicstore.local_config.gunicorn_options).

The app is preloaded: the master imports it and runs create_app once, and the workers fork from it, sharing
those pages. Before each fork the master freezes its objects out of the garbage collector's reach (gc.freeze),
so a collection in a worker does not write to, and so copy, every shared page. After the fork each worker starts
the work create_app kept for it (musicstore.common.background: its threads, the tracing SDK, fresh database pools).

Metrics with several workers (musicstore.common.metrics): each worker writes its counts to files of its own
under PROMETHEUS_MULTIPROC_DIR, which the CLI sets before gunicorn starts. A worker that exits (or is killed)
keeps its counts, which happened; only its live gauges go. When gunicorn stops, the files go too.
"""

from __future__ import annotations

import gc
import os
from contextlib import suppress
from pathlib import Path
from typing import Any

from prometheus_client import multiprocess

from musicstore.common import background
from musicstore.common.metric_files import MULTIPROC_DIR, remove_metric_files


def pre_fork(_server: Any, _worker: Any) -> None:
    """Before a worker is forked: what the master has made stays shared (no collection rewrites it)."""
    gc.freeze()


def post_fork(_server: Any, _worker: Any) -> None:
    """In a new worker: start what each serving process runs for itself (threads, tracing, database pools)."""
    background.after_fork()


def child_exit(_server: Any, worker: Any) -> None:
    """A worker exited: mark it dead for the metrics of the workers that remain."""
    if os.environ.get(MULTIPROC_DIR):
        multiprocess.mark_process_dead(worker.pid)


def on_exit(_server: Any) -> None:
    """gunicorn stops: remove the metric files, and their directory once it is empty."""
    directory = os.environ.get(MULTIPROC_DIR)
    if directory and Path(directory).is_dir():
        remove_metric_files(Path(directory))
        with suppress(OSError):  # not empty (not only ours) or a mount point: it stays
            Path(directory).rmdir()
