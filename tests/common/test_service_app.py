"""The services' Flask class: the same answers as Flask, with its per-function checks made once."""

from __future__ import annotations

from typing import Any

import flask.app
import pytest

from musicstore.common.app import ServiceApp


def test_each_hook_and_view_is_checked_for_a_coroutine_once_not_on_every_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = ServiceApp(__name__)
    seen: list[Any] = []
    check = flask.app.iscoroutinefunction

    def counted(func: Any) -> bool:
        seen.append(func)
        return check(func)

    monkeypatch.setattr(flask.app, "iscoroutinefunction", counted)
    app.before_request(lambda: None)
    app.after_request(lambda response: response)
    app.add_url_rule("/", "index", lambda: "hello")
    client = app.test_client()
    answers = [client.get("/") for _ in range(5)]
    assert all(answer.status_code == 200 and answer.text == "hello" for answer in answers)
    assert len(seen) == 3  # the before hook, the view, the after hook: once each
