"""A clock a test moves by hand, for code that reads time from a callable it is given."""

from __future__ import annotations


class FakeClock:
    """Reads as `now`, which the test moves."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
