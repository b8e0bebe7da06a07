"""The Flask application class every service builds its app from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask


class ServiceApp(Flask):
    """Flask, with its check of whether a hook or view is a coroutine function made once per function.

    Flask asks it of every before-request, after-request and teardown hook and of the view, on every request
    (thirteen functions per request here, six calls each); the answer for a function never changes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """The function as a synchronous callable (Flask's own answer, kept for the next request)."""
        known = self._sync.get(func)
        if known is None:
            known = self._sync[func] = super().ensure_sync(func)
        return known
