"""Locust's web UI as the traffic generator serves it: no debug mode, no CORS, the admin's login off loopback.

DESIGN.md: the UI and its APIs are open on loopback in local mode and take the admin's credentials
elsewhere; no service enables CORS; writes that carry another site's Origin are refused.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, request

CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Methods",
    "Access-Control-Expose-Headers",
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What a swarm started from the UI may set: Locust's own fields and our options shown there. The targets, the
# summary path and the rest stay what the command line said (a form must not aim the load elsewhere).
SWARM_FIELDS = frozenset({"user_count", "spawn_rate", "host", "user_classes", "run_time", "profile", "shape_class",
                          "think_min", "think_max", "max_browsers", "browser_journeys"})  # fmt: skip


def _without_cors(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """WSGI middleware that drops the CORS headers Locust's UI adds."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(k, v) for k, v in headers if k.title() not in {h.title() for h in CORS_HEADERS}]
            return start_response(status, kept, exc_info)

        return app(environ, start)

    return wrapped


def harden(app: Flask, *, user: str, password: str, need_login: bool) -> None:
    """Turn off debug mode and CORS; ask for the admin's credentials when `need_login`; refuse foreign writes."""
    app.debug = False
    app.wsgi_app = _without_cors(app.wsgi_app)  # type: ignore[method-assign]
    if "locust.stop" in app.view_functions:  # DESIGN.md's `GET /stop` (Locust itself now takes POST)
        app.add_url_rule("/stop", endpoint="locust.stop", methods=["GET"])

    @app.before_request
    def _guard() -> Response | None:
        if request.method not in SAFE_METHODS and _foreign_origin():
            return Response("writes from another site are refused\n", 403, mimetype="text/plain")
        if request.method == "POST" and request.path.endswith("/swarm"):
            refused = sorted(set(request.form) - SWARM_FIELDS)
            if refused:
                return Response(f"these options cannot be set from the web UI: {', '.join(refused)}\n", 400,
                                mimetype="text/plain")  # fmt: skip
        if need_login and not _is_admin(user, password):
            return Response(
                "the traffic generator takes the admin's credentials\n",
                401,
                {"WWW-Authenticate": 'Basic realm="musicstore traffic"'},
                mimetype="text/plain",
            )
        return None


def _foreign_origin() -> bool:
    """True when the request names an Origin that is not this UI's own host."""
    origin = request.headers.get("Origin")
    return bool(origin) and urlsplit(origin).netloc != request.host


def _is_admin(user: str, password: str) -> bool:
    auth = request.authorization
    if auth is None or not password:
        return False
    return hmac.compare_digest(str(auth.username or ""), user) & hmac.compare_digest(str(auth.password or ""), password)
