"""A version read shared by the threads that ask at about the same time, and never begun before any of them asked."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from musicstore.common.shared_read import SharedRead
from tests.support.waiting import eventually


class Reads:
    """A read that blocks until the test lets it answer: each answers the count of reads begun so far."""

    def __init__(self) -> None:
        self.begun = 0
        self.release: list[threading.Event] = []
        self.lock = threading.Lock()

    def __call__(self) -> int | None:
        with self.lock:
            self.begun += 1
            number, go = self.begun, threading.Event()
            self.release.append(go)
        assert go.wait(10)
        return number

    def let(self, number: int) -> None:
        """Let the read begun as `number` answer."""
        eventually(lambda: self.assert_begun(number), timeout=10)
        self.release[number - 1].set()

    def assert_begun(self, number: int) -> None:
        """Fails until `number` reads have begun."""
        assert self.begun >= number


def waiting(shared: SharedRead[int], count: int) -> None:
    """Fails unless `count` threads wait for the next read."""
    assert shared.waiting == count


def test_a_thread_alone_reads_at_once() -> None:
    reads = Reads()
    shared = SharedRead(reads)
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(shared)
        reads.let(1)
        assert answer.result(timeout=10) == 1


def asking_during_the_first_read(
    pool: ThreadPoolExecutor, shared: SharedRead[int], reads: Reads, count: int
) -> tuple[Future[int | None], list[Future[int | None]]]:
    """One thread's read under way, then `count` threads asking meanwhile (waiting for the next read)."""
    first = pool.submit(shared)
    eventually(lambda: reads.assert_begun(1), timeout=10)
    later = [pool.submit(shared) for _ in range(count)]
    eventually(lambda: waiting(shared, count), timeout=10)
    return first, later


def test_threads_asking_while_a_read_is_under_way_share_the_next_read_not_that_one() -> None:
    reads = Reads()
    shared = SharedRead(reads)
    with ThreadPoolExecutor(6) as pool:
        first, later = asking_during_the_first_read(pool, shared, reads, 5)
        # none of them takes the read that began before they asked, nor begins its own while it is under way
        reads.let(1)
        assert first.result(timeout=10) == 1
        reads.let(2)
        assert [answer.result(timeout=10) for answer in later] == [2] * 5
    assert reads.begun == 2


def test_a_failed_read_answers_none_to_its_threads_and_the_next_read_goes_on() -> None:
    calls = iter([None, 7])
    shared = SharedRead(lambda: next(calls))
    assert shared() is None
    assert shared() == 7


class BreakingFirst(Reads):
    """Reads whose first one raises once let go (a driver error nobody caught)."""

    def __call__(self) -> int | None:
        number = super().__call__()
        if number == 1:
            raise RuntimeError("the driver broke")
        return number


def test_a_read_that_raises_fails_only_its_own_thread_and_the_next_read_goes_on() -> None:
    reads = BreakingFirst()
    shared = SharedRead(reads)
    with ThreadPoolExecutor(3) as pool:
        first, later = asking_during_the_first_read(pool, shared, reads, 2)
        reads.let(1)
        assert isinstance(first.exception(timeout=10), RuntimeError)
        reads.let(2)
        assert [answer.result(timeout=10) for answer in later] == [2, 2]
        after = pool.submit(shared)
        reads.let(3)
        assert after.result(timeout=10) == 3
