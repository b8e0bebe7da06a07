"""Reading request bodies: a JSON object or nothing."""

from __future__ import annotations

from typing import Any

from flask import request

from musicstore.common.errors import ApiError


def json_object() -> dict[str, Any]:
    """The request's JSON body, which must be an object (415 for a body sent as anything but JSON)."""
    if not request.is_json:
        raise ApiError("send the body as JSON (Content-Type: application/json)", 415)
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        raise ApiError("the body is nested too deeply", 400) from None
    if data is None:
        raise ApiError("the body must be valid JSON", 400)
    if not isinstance(data, dict):
        raise ApiError("the body must be a JSON object", 400)
    return data
