"""One overall deadline per request for its downstream calls, passed on to the callee.

A view that calls other services starts a deadline (`within(seconds)`); every call it makes then
waits at most the time that is left, retries included, instead of per-try timeouts that multiply.
The absolute deadline travels as the `X-Request-Deadline` header (Unix time in seconds), so the
callee can refuse work that would finish after its caller stopped waiting: `caller_deadline_passed()`.
Clocks of the machines of one deployment are assumed to agree to well under a second (NTP).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import has_request_context, request

DEADLINE_HEADER = "X-Request-Deadline"

_deadline: ContextVar[float | None] = ContextVar("deadline", default=None)


@contextmanager
def within(seconds: float) -> Iterator[float]:
    """Give the calls made in this block `seconds` in all (a deadline already set and sooner wins)."""
    wanted = time.time() + seconds
    current = _deadline.get()
    token = _deadline.set(wanted if current is None else min(current, wanted))
    try:
        yield _deadline.get() or wanted
    finally:
        _deadline.reset(token)


def current() -> float | None:
    """The absolute deadline (Unix time) of the calls made now, or None when no deadline is set."""
    return _deadline.get()


def remaining() -> float | None:
    """Seconds left before the deadline (never below zero), or None when no deadline is set."""
    deadline = _deadline.get()
    return None if deadline is None else max(0.0, deadline - time.time())


def caller_deadline() -> float | None:
    """The deadline the caller sent with this request, or None (absent or unreadable)."""
    if not has_request_context():
        return None
    try:
        value = float(request.headers.get(DEADLINE_HEADER, ""))
    except ValueError:
        return None
    return value if value == value and value > 0 else None  # NaN is not a deadline


def caller_deadline_passed() -> bool:
    """True when the caller sent a deadline and it has passed: the caller no longer waits for this answer."""
    deadline = caller_deadline()
    return deadline is not None and time.time() > deadline
