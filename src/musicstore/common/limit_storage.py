"""The rate limits' in-process storage ("memory://"), without a thread for each hit.

limits' own MemoryStorage drops expired counts from a timer thread that each hit starts 10 ms ahead unless one is
alive: with hits further apart than that (payments one after another) every payment started a thread and let it
end again, about 0.3 ms of CPU here. An expired count is never read either way (a read checks its expiry itself);
dropping it only frees memory, so here the hits themselves drop what has expired, at most once a SWEEP_EVERY.
"""

from __future__ import annotations

import time
from typing import Any

from limits.storage import MemoryStorage

SCHEME = "musicstore-memory"
SWEEP_EVERY = 1.0  # seconds between sweeps of expired counts (memory only: a read checks expiry itself)


class SweptMemoryStorage(MemoryStorage):
    """limits' MemoryStorage whose expired entries are swept by its hits, not by a timer thread per hit."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions, **options)
        self.clock = time.monotonic
        self._next_sweep = 0.0

    # MemoryStorage calls its private __schedule_expiry on each hit: this is that name, mangled, so it is called.
    def _MemoryStorage__schedule_expiry(self) -> None:
        """Sweep expired entries now if the last sweep is SWEEP_EVERY old (on the hit's own thread)."""
        now = self.clock()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY
            self.sweep()

    def sweep(self) -> None:
        """Drop expired counts and moving-window entries, and the locks of keys left with neither.

        On a request's thread, so it must never raise: other threads read and drop the same keys meanwhile (a read
        drops an expired count itself), hence a snapshot of each map and pop() with a default throughout. limits'
        own sweep indexes keys it listed a moment before, which a read on another thread may have dropped."""
        now = time.time()  # limits keeps expiries in wall-clock time
        for key, expiry in list(self.expirations.items()):
            if expiry <= now:
                self.storage.pop(key, None)
                self.expirations.pop(key, None)
        for key, entries in list(self.events.items()):
            with self.locks[key]:  # the lock a moving window's hit takes to add entries to this list
                entries[:] = [entry for entry in entries if entry.expiry > now]  # in place: never a cleared key back
                if not entries and self.events.get(key) is entries:
                    self.events.pop(key, None)
        for key in list(self.locks):
            if key not in self.storage and key not in self.events:
                self.locks.pop(key, None)


def storage_uri(configured: str) -> str:
    """The storage the limiter uses for a configured RATELIMIT_STORAGE_URI: ours for in-process memory."""
    return f"{SCHEME}://" if configured.split("://", 1)[0] == "memory" else configured
