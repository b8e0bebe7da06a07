"""The rate limits' storage for "memory://": one count per key for every process of a server, kept in a file."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from limits import parse
from limits.errors import StorageError
from limits.strategies import FixedWindowRateLimiter

from musicstore.common.limit_storage import SWEEP_EVERY, ServerStorage, _remove, storage_uri
from tests.support.clock import FakeClock


def on_file(path: Path, clock: FakeClock | None = None) -> ServerStorage:
    """A storage on a given file, on a fake wall clock when given one."""
    storage = ServerStorage(f"musicstore-server://{path}")
    if clock is not None:
        storage.clock = clock
    return storage


def test_a_count_grows_in_its_window_and_starts_again_once_the_window_has_ended(tmp_path: Path) -> None:
    clock = FakeClock()
    storage = on_file(tmp_path / "counts", clock)
    assert [storage.incr("login", expiry=60) for _ in range(3)] == [1, 2, 3]
    assert storage.get("login") == 3 and storage.get_expiry("login") == clock.now + 60
    clock.now += 60
    assert storage.get("login") == 0 and storage.get_expiry("login") == clock.now
    assert storage.incr("login", expiry=60) == 1 and storage.get_expiry("login") == clock.now + 60


def test_the_limit_refuses_the_hit_beyond_it_and_other_keys_count_on_their_own() -> None:
    limiter = FixedWindowRateLimiter(ServerStorage(f"{storage_uri('memory://')}"))
    rate = parse("3 per minute")
    assert [limiter.hit(rate, "payment", "cart-1") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(rate, "payment", "cart-2")


def test_a_forked_process_counts_into_the_count_of_the_process_that_made_the_storage() -> None:
    storage = ServerStorage("musicstore-server://")  # made before the fork, as the gunicorn master makes it
    storage.incr("login", expiry=60)
    child = os.fork()
    if child == 0:  # the worker: three attempts of its own
        code = 0 if [storage.incr("login", expiry=60) for _ in range(3)] == [2, 3, 4] else 1
        os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert storage.get("login") == 4  # the parent sees the child's attempts
    assert storage.incr("login", expiry=60) == 5


def test_two_connections_counting_at_once_lose_no_hit(tmp_path: Path) -> None:
    first, second = on_file(tmp_path / "counts"), on_file(tmp_path / "counts")  # a connection each, as two workers
    threads = [threading.Thread(target=lambda s=s: [s.incr("cart", expiry=60) for _ in range(50)])
               for s in (first, second, first, second)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert first.get("cart") == second.get("cart") == 200


def test_expired_counts_are_deleted_by_a_later_count(tmp_path: Path) -> None:
    clock = FakeClock()
    storage = on_file(tmp_path / "counts", clock)
    storage.incr("old", expiry=1)
    clock.now += SWEEP_EVERY
    storage.incr("new", expiry=60)
    with storage._lock:
        keys = [key for (key,) in storage._db().execute("SELECT key FROM counts")]
    assert keys == ["new"]


def test_clear_and_reset_forget_counts(tmp_path: Path) -> None:
    storage = on_file(tmp_path / "counts")
    for key in ("a", "a", "b"):
        storage.incr(key, expiry=60)
    storage.clear("a")
    assert storage.get("a") == 0 and storage.get("b") == 1
    assert storage.reset() == 1 and storage.get("b") == 0 and storage.check()


def test_the_file_goes_when_the_process_that_made_it_exits_not_when_a_forked_worker_does(tmp_path: Path) -> None:
    directory = tmp_path / "limits"
    directory.mkdir()
    _remove(directory, os.getpid() + 1)  # a worker's exit: the hook it inherited leaves the file
    assert directory.exists()
    _remove(directory, os.getpid())
    assert not directory.exists()


def test_a_new_storage_makes_its_own_file_in_a_new_directory() -> None:
    first, second = ServerStorage("musicstore-server://"), ServerStorage("musicstore-server://")
    assert first.path != second.path and first.path.exists() and second.path.exists()


def test_memory_means_the_server_s_shared_storage_and_any_other_storage_is_left_as_configured() -> None:
    assert storage_uri("memory://") == "musicstore-server://"
    assert storage_uri("redis://cache:6379/0") == "redis://cache:6379/0"


def test_a_worker_that_finds_the_file_removed_makes_it_again_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "limits" / "counts"
    counting, respawned = on_file(path), on_file(path)  # the second opens its connection only when it first counts
    counting.incr("login", expiry=60)
    shutil.rmtree(path.parent)  # a cleaner of the temporary folder
    assert respawned.incr("login", expiry=60) == 1 and path.exists()


def test_a_count_that_waits_too_long_for_a_lock_fails_and_the_next_one_counts(tmp_path: Path) -> None:
    storage = ServerStorage(f"musicstore-server://{tmp_path / 'counts'}", wrap_exceptions=True)
    storage.incr("login", expiry=60)
    holder = sqlite3.connect(tmp_path / "counts", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing, and not letting go
    with pytest.raises(StorageError):
        storage.incr("login", expiry=60)
    holder.execute("ROLLBACK")
    holder.close()
    assert storage.incr("login", expiry=60) == 2
