"""The rate limits' in-process storage counts as limits' own does, without starting a thread for each hit."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from limits import parse
from limits.strategies import FixedWindowRateLimiter

from musicstore.common.limit_storage import SWEEP_EVERY, SweptMemoryStorage, storage_uri
from tests.support.clock import FakeClock


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads started meanwhile."""
    names: list[str] = []
    start = threading.Thread.start

    def record(thread: threading.Thread, *args: Any, **kwargs: Any) -> None:
        names.append(thread.name)
        start(thread, *args, **kwargs)

    monkeypatch.setattr(threading.Thread, "start", record)
    return names


def test_hits_far_apart_start_no_thread(started: list[str]) -> None:
    storage = SweptMemoryStorage()
    limiter = FixedWindowRateLimiter(storage)
    storage.timer.join(timeout=5)  # the one thread limits' constructor starts has ended
    made = len(started)
    for _ in range(3):
        assert limiter.hit(parse("10 per minute"), "payment", "cart-1")
        storage.timer.join(timeout=5)  # limits' own storage would start a thread for each hit after this
    assert len(started) == made


def test_the_limit_still_refuses_the_hit_beyond_it() -> None:
    limiter = FixedWindowRateLimiter(SweptMemoryStorage())
    rate = parse("3 per minute")
    assert [limiter.hit(rate, "payment", "cart-1") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(rate, "payment", "cart-2")  # another cart counts on its own


def test_expired_counts_are_swept_by_a_later_hit() -> None:
    storage, clock = SweptMemoryStorage(), FakeClock()
    storage.clock = clock
    storage.incr("old", expiry=0.001)
    storage.expirations["old"] = 0  # expired long ago (limits keeps expiries in wall-clock time)
    clock.now += SWEEP_EVERY
    storage.incr("new", expiry=60)
    assert "old" not in storage.storage and storage.get("new") == 1


def test_memory_means_this_storage_and_any_other_storage_is_left_as_configured() -> None:
    assert storage_uri("memory://") == "musicstore-memory://"
    assert storage_uri("redis://cache:6379/0") == "redis://cache:6379/0"
