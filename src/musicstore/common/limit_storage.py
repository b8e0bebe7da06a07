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
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def storage_uri(configured: str) -> str:
    """The storage the limiter uses for a configured RATELIMIT_STORAGE_URI: ours for in-process memory."""
    return f"{SCHEME}://" if configured.split("://", 1)[0] == "memory" else configured
