"""Waiting for something to become true, bounded: never a bare sleep."""

from __future__ import annotations

from collections.abc import Callable

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed


def eventually(check: Callable[[], None], timeout: float = 15.0, interval: float = 0.05) -> None:
    """Run `check` until it stops raising AssertionError, for `timeout` seconds at most (then its error)."""
    for attempt in Retrying(
        retry=retry_if_exception_type(AssertionError),
        stop=stop_after_delay(timeout),
        wait=wait_fixed(interval),
        reraise=True,
    ):
        with attempt:
            check()
