"""A rate limits' counts file held by another writer: what a count meets when its file is locked."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask


@contextmanager
def limits_locked(app: Flask) -> Iterator[None]:
    """While the block runs, another connection holds the write lock on the app's rate-limit counts."""
    (limiter,) = app.extensions["limiter"]
    holder = sqlite3.connect(limiter.storage.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()
