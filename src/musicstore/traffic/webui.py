"""Locust's web UI as the traffic generator serves it: no debug mode, no CORS, the admin's login off loopback.

DESIGN.md: the UI and its APIs are open on loopback in local mode and take the admin's credentials
elsewhere (failed attempts rate-limited per address); no service enables CORS; writes from another site are
refused. A form may change the load (users, types, think time), never where it goes or what is written.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, request
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from locust.util.timespan import parse_timespan

CORS_HEADERS = frozenset({"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
                          "Access-Control-Allow-Headers", "Access-Control-Allow-Methods",
                          "Access-Control-Expose-Headers"})  # fmt: skip
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
FAILED_LOGINS = parse("10 per minute")
# What a swarm started from the UI may set, with the bounds of each of our options.
SWARM_FIELDS = frozenset({"run_time", "profile", "shape_class"})
BOUNDED_FIELDS: dict[str, tuple[type, float, float]] = {
    "user_count": (int, 0, 100_000),
    "spawn_rate": (float, 0.001, 10_000),
    "think_min": (float, 0, 600),
    "think_max": (float, 0, 600),
    "max_browsers": (int, 0, 64),
    "browser_journeys": (int, 1, 10_000),
}
USER_CLASS_FIELDS = frozenset({"user_class_name", "weight", "fixed_count", "tasks"})


def loopback(host: str) -> bool:
    """True for an address only this machine reaches."""
    return host in LOOPBACK or host.startswith("127.")


def _without_cors(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """WSGI middleware that drops the CORS headers Locust's UI adds."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [(k, v) for k, v in headers if k.title() not in CORS_HEADERS], exc_info)

        return app(environ, start)

    return wrapped


@dataclass(frozen=True)
class RunForm:
    """What a swarm form may name: the user types there are, and the host the run already has (shown, not set)."""

    user_classes: frozenset[str] = frozenset()
    host: str = ""


def harden(app: Flask, *, user: str, password: str, need_login: bool, form: RunForm | None = None) -> None:
    """Turn off debug mode and CORS; ask for the admin's credentials when `need_login`; refuse foreign writes."""
    form = form or RunForm()
    app.debug = False
    app.wsgi_app = _without_cors(app.wsgi_app)  # type: ignore[method-assign]
    if "locust.stop" in app.view_functions:  # DESIGN.md's `GET /stop` (Locust itself now takes POST)
        app.add_url_rule("/stop", endpoint="locust.stop", methods=["GET"])
    failures = MovingWindowRateLimiter(MemoryStorage())

    @app.before_request
    def _guard() -> Response | None:
        if _cross_site():
            return _plain("requests from another site are refused", 403)
        if need_login:
            address = request.remote_addr or "?"
            if not failures.test(FAILED_LOGINS, address):
                return _plain("too many failed log-ins; try again in a minute", 429, {"Retry-After": "60"})
            if not _is_admin(user, password):
                if request.authorization is not None:
                    failures.hit(FAILED_LOGINS, address)
                realm = {"WWW-Authenticate": 'Basic realm="musicstore traffic"'}
                return _plain("the traffic generator takes the admin's credentials", 401, realm)
        return _refused_form(form)


def _cross_site() -> bool:
    """A write that names another site's Origin, or any request the browser marks as cross-site."""
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return True
    origin = request.headers.get("Origin")
    return request.method not in SAFE_METHODS and bool(origin) and urlsplit(origin or "").netloc != request.host


def _refused_form(form: RunForm) -> Response | None:
    """A 400 for a swarm or user-class change that sets what the UI may not, or a value out of bounds."""
    if request.method != "POST":
        return None
    if request.path.endswith("/swarm"):
        return _refused_swarm(form)
    if request.path.endswith("/user"):
        try:
            fields = set(json.loads(request.get_data() or b"{}"))
        except (ValueError, TypeError):
            return _plain("send the user class as JSON", 400)
        if fields - USER_CLASS_FIELDS:
            return _plain(f"{', '.join(sorted(fields - USER_CLASS_FIELDS))} cannot be set from the web UI", 400)
    return None


def _refused_swarm(form: RunForm) -> Response | None:
    for key, value in request.form.items(multi=True):
        if key in BOUNDED_FIELDS:
            problem = _out_of_bounds(key, value)
            if problem:
                return _plain(problem, 400)
        elif key == "user_classes":
            if form.user_classes and value not in form.user_classes:
                return _plain(f"no user type {value!r}; choose from {', '.join(sorted(form.user_classes))}", 400)
        elif key == "host":
            if value and form.host and value.rstrip("/") != form.host.rstrip("/"):
                return _plain(f"the targets are set when the generator starts (--store-url, ...): {form.host}", 400)
        elif key not in SWARM_FIELDS:
            return _plain(f"{key} cannot be set from the web UI", 400)
    return _refused_together(request.form)


def _refused_together(fields: Any) -> Response | None:
    """A 400 for a run time Locust cannot read (it would answer 200 and not start), or a think time whose shortest
    is longer than its longest."""
    run_time = fields.get("run_time", "")
    if run_time:  # as Locust reads it: " 90" or "  " would not start a run
        try:
            parse_timespan(run_time)
        except ValueError:
            return _plain(f"run_time {run_time!r} is not a time span (e.g. 90, 90s, 5m, 1h30m)", 400)
    shortest, longest = fields.get("think_min"), fields.get("think_max")
    if shortest and longest and float(shortest) > float(longest):
        return _plain(f"think_min ({shortest} s) must not be longer than think_max ({longest} s)", 400)
    return None


def _out_of_bounds(key: str, value: str) -> str:
    kind, low, high = BOUNDED_FIELDS[key]
    try:
        number = kind(value)
    except ValueError:
        return f"{key} must be a number from {low:g} to {high:g}"
    return "" if low <= number <= high else f"{key} must be from {low:g} to {high:g}"


def _plain(text: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(text + "\n", status, headers or {}, mimetype="text/plain")


def _is_admin(user: str, password: str) -> bool:
    auth = request.authorization
    if auth is None or not password:
        return False
    return hmac.compare_digest(str(auth.username or ""), user) & hmac.compare_digest(str(auth.password or ""), password)


def on_locusts_page(app: Flask, assets: Callable[[], str]) -> None:
    """Locust's page (its index) also carries what `assets` renders (a tab's script and style), before </body>."""

    def _add_assets(response: Response) -> Response:
        if request.endpoint != "locust.index" or response.status_code != 200 or response.mimetype != "text/html":
            return response
        html = response.get_data(as_text=True)
        if "</body>" in html:
            response.set_data(html.replace("</body>", assets() + "</body>", 1))
        return response

    app.after_request(_add_assets)
