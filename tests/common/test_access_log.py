"""The access log never writes an order's tracking token."""

from __future__ import annotations

from musicstore.common.access_log import redact


def test_tracking_tokens_are_masked_in_request_lines() -> None:
    line = "GET /track/PlsoEYabxYOiIUqEs55lIw4zBwC-GomI?x=1 HTTP/1.1"
    assert redact(line) == "GET /track/<token>?x=1 HTTP/1.1"
    assert "PlsoEYab" not in redact(line)


def test_other_paths_are_left_alone() -> None:
    assert redact("GET /api/orders/12 HTTP/1.1") == "GET /api/orders/12 HTTP/1.1"
