"""One read shared by the threads that ask for it at about the same time, never older than any of them.

A cached answer is served only when a version read shows nothing changed, and that read must begin after the
request arrived: a read already under way may have missed a commit made just before the request. So a thread that
asks while a read is under way does not take its answer: it waits for the next read, which begins once the one
under way ends, and every thread that asked meanwhile shares that one. Under load a worker's threads make one read
per round trip instead of one each (the database and the driver's work per request shrink with it); alone, a thread
reads at once, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Read(Generic[T]):
    """One read and the threads waiting for its answer."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: T | None = None
        self.threads = 1


class SharedRead(Generic[T]):
    """Calls `read` for a thread, or shares with it a read that begins after it asked (see the module)."""

    def __init__(self, read: Callable[[], T | None], wait: float = 5.0) -> None:
        self._read, self._wait = read, wait
        self._lock = threading.Lock()
        self._under_way: _Read[T] | None = None
        self._next: _Read[T] | None = None  # not begun yet: a thread that asks now may join it

    def __call__(self) -> T | None:
        """The value read after this call began; None when the read failed or took longer than `wait`."""
        with self._lock:
            before, joined = self._under_way, self._next
            if before is None:
                mine = self._under_way = _Read[T]()
            elif joined is None:
                mine = self._next = _Read[T]()
            else:
                joined.threads += 1
        if before is None:
            return self._run(mine)
        if joined is None:
            return self._after(before, mine)
        return joined.value if joined.done.wait(self._wait) else None

    @property
    def waiting(self) -> int:
        """How many threads wait for the next read (it begins when the one under way ends)."""
        with self._lock:
            return 0 if self._next is None else self._next.threads

    def _after(self, before: _Read[T], mine: _Read[T]) -> T | None:
        """Lead the next read: begin it when the one under way ends (no one joins it after it begins)."""
        before.done.wait(self._wait)
        with self._lock:
            self._next = None
            self._under_way = mine
        return self._run(mine)

    def _run(self, mine: _Read[T]) -> T | None:
        try:
            mine.value = self._read()
        finally:
            with self._lock:
                if self._under_way is mine:
                    self._under_way = None
            mine.done.set()
        return mine.value
