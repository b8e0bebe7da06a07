"""The rate limits' in-process storage counts as limits' own does, without starting a thread for each hit."""

from __future__ import annotations

import sys
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


KEYS, ROUNDS = 3000, 4


def test_sweeping_while_other_threads_read_and_hit_the_same_keys_never_raises() -> None:
    storage = SweptMemoryStorage()
    storage.clock = lambda: 1e12  # every hit is due a sweep
    failures: list[BaseException] = []

    def read_all(prefix: str) -> None:
        try:
            for number in range(KEYS):
                storage.get(f"{prefix}{number}")
        except BaseException as exc:  # any error a sweep let escape is the failure
            failures.append(exc)

    def hit_often() -> None:
        try:
            for number in range(KEYS // 5):
                storage._next_sweep = 0.0
                storage.incr(f"fresh{number}", expiry=60)
                storage.acquire_entry(f"window{number % 5}", limit=10**6, expiry=60)
        except BaseException as exc:
            failures.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns every few bytecodes: the race shows within these few rounds
    try:
        for round_ in range(ROUNDS):
            prefix = f"r{round_}-"
            for number in range(KEYS):
                storage.incr(f"{prefix}{number}", expiry=60)
                storage.expirations[f"{prefix}{number}"] = 0  # expired: a read drops it, and so does a sweep
            threads = [threading.Thread(target=read_all, args=(prefix,)) for _ in range(3)]
            threads.append(threading.Thread(target=hit_often))
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            assert not any(thread.is_alive() for thread in threads)
    finally:
        sys.setswitchinterval(interval)
    assert not failures
    assert storage.get("fresh0") == ROUNDS and not any(key.startswith("r") for key in storage.storage)


def test_a_sweep_keeps_live_window_entries_and_drops_expired_ones() -> None:
    storage = SweptMemoryStorage()
    assert storage.acquire_entry("window", limit=5, expiry=60)
    assert storage.acquire_entry("gone", limit=5, expiry=60)
    for entry in storage.events["gone"]:
        entry.expiry = 0
    storage.sweep()
    assert len(storage.events["window"]) == 1 and "gone" not in storage.events and "gone" not in storage.locks
