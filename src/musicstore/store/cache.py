"""The catalog cache: the shop page and the album API answered from memory, never with a stale price.

Each worker process keeps its own small cache of whole answers (body and type), keyed by path and query. An answer
is served from it only while both hold:

- the catalog's version is the one the answer was made at. The version is one number in the database
  (catalog_version, migration 0003) that a trigger moves on in the same transaction as any album added, deleted,
  or its title, artist, genre, year, price or cover changed. It is read at the start of every cached request, so
  a request that starts after such a change's commit never gets an answer from before it, in any worker or
  replica. An answer is filed under the version read before its data: data newer than its label only makes a
  later request miss, never serve old data.
- the answer is younger than CATALOG_CACHE_SECONDS (default 1 s): stock changes (reservations, restocks) do not
  move the version, so the stock a cached answer shows is at most that old. The reservation stays the authority.

Only anonymous GET requests are answered from it (no session cookie of this service: an admin, or a visitor with a
flash message waiting, gets a page of their own; no credentials: an operator's or a service's reads, such as the
traffic generator's stock checks, see the stock as it is now), and only 200 answers that did not touch the session
are kept.
One read of the version replaces the count, the page and the genre list of a shop page, or the album's row. It goes
over a small pool of its own in autocommit mode and without a pre-ping: one round trip, not three (pre-ping,
query, ROLLBACK). A broken connection (the database restarted) is dropped and that request answered uncached.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from flask import Flask, current_app, request, session

from musicstore.common.metrics import get_metrics
from musicstore.common.versions import VersionedDatabase, VersionReader, answer_at

View = TypeVar("View", bound=Callable[..., Any])
SIZE = 512  # answers per worker: the shop's pages, filters and albums that are asked for most
RENEW_AFTER = 0.8  # of an answer's greatest age: one request then renews it, before every thread finds it expired


@dataclass(frozen=True)
class Cached:
    """One answer kept: its body and type, the catalog version it was made at, and when."""

    body: bytes
    mimetype: str
    version: int
    stored_at: float
    renewing: bool = False  # a request is making its next copy


class CatalogCache:
    """A bounded, thread-safe map of answers, least recently used first out."""

    def __init__(self, *, max_age: float, size: int = SIZE) -> None:
        self.max_age = max_age
        self.size = size
        self.clock: Callable[[], float] = time.monotonic
        self._answers: OrderedDict[str, Cached] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, version: int) -> Cached | None:
        """The answer kept for this key at this catalog version, if it is young enough.

        Late in an answer's life (RENEW_AFTER of max_age) the first request to ask gets None and makes the next copy
        while the others are still served this one: at its expiry every thread of a busy worker would otherwise
        render the same page at once (the p99 of a cached page)."""
        with self._lock:
            found = self._answers.get(key)
            if found is None or found.version != version:
                return None
            age = self.clock() - found.stored_at
            if age >= self.max_age:
                return None
            if age >= self.max_age * RENEW_AFTER and not found.renewing:
                self._answers[key] = replace(found, renewing=True)
                return None
            self._answers.move_to_end(key)
            return found

    def put(self, key: str, version: int, body: bytes, mimetype: str) -> None:
        """Keep an answer made at this catalog version (the oldest one goes when the cache is full)."""
        with self._lock:
            self._answers[key] = Cached(body, mimetype, version, self.clock())
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)


VERSION_SQL = "SELECT version FROM catalog_version WHERE id = 1"


def init_cache(app: Flask, max_age: float, database: VersionedDatabase) -> None:
    """Give the app its catalog cache (none when max_age is 0) and count its hits and misses."""
    if max_age > 0:
        app.extensions["catalog_cache"] = CatalogCache(max_age=max_age)
        database.reader = VersionReader(database.url, get_metrics(app), app.config["SERVICE_NAME"], VERSION_SQL)
        app.extensions["catalog_version"] = database.reader
    app.extensions["catalog_cache_requests"] = get_metrics(app).counter(
        "catalog_cache_requests_total", "Shop pages and album answers asked of the catalog cache", ("outcome",)
    )


def cached(view: View) -> View:
    """Answer a catalog view from the cache when the catalog has not changed and the visitor is anonymous."""

    @functools.wraps(view)
    def answer(*args: Any, **kwargs: Any) -> Any:
        cache: CatalogCache | None = current_app.extensions.get("catalog_cache")
        if (
            cache is None
            or request.method != "GET"
            or current_app.config["SESSION_COOKIE_NAME"] in request.cookies
            or "Authorization" in request.headers  # an operator or a service reads the catalog as it is now
        ):
            return view(*args, **kwargs)
        version = current_app.extensions["catalog_version"].read()
        if version is None:
            return view(*args, **kwargs)
        outcomes = current_app.extensions["catalog_cache_requests"]
        # An answer that touched the session (a flash message, a CSRF token) is this visitor's own: not kept.
        return answer_at(version, cache, outcomes, lambda: view(*args, **kwargs), lambda _: not session.modified)

    return answer  # type: ignore[return-value]
