"""The one admin account and the service token: who may call what."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse
from limits.errors import StorageError
from werkzeug.exceptions import Forbidden, Unauthorized

from musicstore.common import sessions
from musicstore.common.db import get_database
from musicstore.common.errors import TooManyAttempts

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
Origin = tuple[str, str, int]


def _settings() -> Any:
    return current_app.config["SETTINGS"]


def _same(a: str, b: str) -> bool:
    return bool(b) and hmac.compare_digest(a.encode(), b.encode())


def check_admin(username: str, password: str) -> bool:
    """True when the credentials are the admin's."""
    settings = _settings()
    return _same(username, settings.ADMIN_USER) & _same(password, settings.ADMIN_PASSWORD)


def is_admin_session() -> bool:
    """True when the browser session belongs to the logged-in admin: not logged out, not past its end."""
    if "admin_session" not in g:
        g.admin_session = _admin_session_is_live()
    return bool(g.admin_session)


def _admin_session_is_live() -> bool:
    session_id, logged_in_at = session.get("admin_session_id"), session.get("login_at")
    if not (session.get("admin") and isinstance(session_id, str) and isinstance(logged_in_at, int)):
        return False
    if sessions.now() >= logged_in_at + _settings().session_lifetime:
        return False
    return sessions.admin_session_is_live(get_database(current_app).engine, session_id)


def log_admin_in() -> None:
    """Start a new admin session (a fresh session id, recorded in the database) in this browser session."""
    session.clear()
    session_id, logged_in_at = sessions.start_admin_session(
        get_database(current_app).engine, _settings().session_lifetime
    )
    session.update(admin=True, admin_session_id=session_id, login_at=logged_in_at)
    session.permanent = True
    g.pop("admin_session", None)


def log_admin_out() -> None:
    """End this browser's admin session everywhere, then forget it."""
    session_id = session.get("admin_session_id")
    if isinstance(session_id, str):
        sessions.end_admin_session(get_database(current_app).engine, session_id)
    session.clear()
    g.pop("admin_session", None)


def _login_limit_keys() -> tuple[Limiter, str, tuple[str, ...]] | None:
    """The limiter, the limit and the count's keys of this client's log-in attempts (None when limits are off)."""
    limiter: Limiter = current_app.extensions["login_limiter"]  # set by the log-in blueprint
    if not limiter.enabled:
        return None
    # The service is part of the key: the replicas of several services may share one limit store.
    service = str(current_app.config["SERVICE_NAME"])
    return limiter, current_app.config["LOGIN_RATE_LIMIT"], ("login", service, get_remote_address())


def refuse_when_login_limit_reached() -> None:
    """Raise TooManyAttempts when this client address has used up its log-in attempts."""
    found = _login_limit_keys()
    if found is None:
        return
    limiter, rate, keys = found
    item = parse(rate)
    try:
        allowed = limiter.limiter.test(item, *keys)
    except StorageError as exc:  # a brake, not a rule: the request goes on without it
        log.warning("the log-in limit cannot be read (%s): this attempt is not limited", exc.storage_error)
        return
    if not allowed:
        raise TooManyAttempts(rate, retry_after=item.get_expiry())


def count_login_attempt() -> None:
    """Count one log-in attempt (a form log-in, or HTTP Basic with wrong credentials) against this address."""
    found = _login_limit_keys()
    if found is not None:
        limiter, rate, keys = found
        try:
            limiter.limiter.hit(parse(rate), *keys)
        except StorageError as exc:
            log.warning("the log-in limit cannot count this attempt (%s)", exc.storage_error)


def request_is_admin() -> bool:
    """True when the request carries the admin's HTTP Basic credentials.

    Basic credentials are a log-in: a client that has used up its attempts gets 429 (right password or not, or
    guessing would go on), and wrong ones count against the same per-address limit as the log-in form.
    """
    if "basic_admin" not in g:
        g.basic_admin = _check_basic()
    return bool(g.basic_admin)


def _check_basic() -> bool:
    auth = request.authorization
    if auth is None or auth.type != "basic":
        return False
    refuse_when_login_limit_reached()
    if check_admin(auth.username or "", auth.password or ""):
        return True
    count_login_attempt()
    return False


def request_is_service() -> bool:
    """True when the request carries the shared service token."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and _same(token.strip(), _settings().SERVICE_TOKEN)


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) of a URL or an Origin header, or None when it names no usable origin ("null")."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


def shop_origins() -> set[Origin]:
    """The origins of every public and service URL of the shop; a loopback host stands for its aliases."""
    settings = _settings()
    return origins_of(
        *(
            getattr(settings, f"{name}_{kind}_URL")
            for name in ("STORE", "CART", "ORDER")
            for kind in ("PUBLIC", "SERVICE")
        )
    )


def origins_of(*urls: str) -> set[Origin]:
    """The origins of these URLs; a loopback host also stands for its aliases (same scheme and port)."""
    trusted: set[Origin] = set()
    for origin in filter(None, map(origin_of, urls)):
        scheme, host, port = origin
        trusted.update((scheme, alias, port) for alias in (LOOPBACK if host in LOOPBACK else {host}))
    return trusted


def refuse_cross_site_write() -> None:
    """403 for a write whose Origin is not one of the shop's URLs; a write without an Origin passes.

    A page of another site, riding on credentials the browser keeps (HTTP Basic), must not change anything;
    servers and curl send no Origin.
    """
    origin = request.headers.get("Origin")
    if request.method in WRITE_METHODS and origin is not None and origin_of(origin) not in shop_origins():
        raise Forbidden("writes from another site's pages are refused (Origin is not the shop's)")


def admin_api(view: F) -> F:
    """Admin APIs: HTTP Basic with the admin credentials."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        refuse_cross_site_write()
        if not request_is_admin():
            raise Unauthorized("admin credentials required (HTTP Basic)")
        return view(*args, **kwargs)

    return cast(F, wrapped)


def admin_decision_api(view: F) -> F:
    """Internal APIs that change what the admin decides (an order's status): admin credentials only.

    The service token is known to every service; it may read and create, never decide (DESIGN.md: 403).
    """

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        refuse_cross_site_write()
        if request_is_admin():
            return view(*args, **kwargs)
        if request_is_service():
            raise Forbidden("status changes take the admin's credentials, not the service token")
        raise Unauthorized("admin credentials required (HTTP Basic)")

    return cast(F, wrapped)


def internal_api(view: F) -> F:
    """Internal APIs: the service token, or the admin credentials for an operator."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        refuse_cross_site_write()
        if not (request_is_service() or request_is_admin()):
            raise Unauthorized("service token (Bearer) or admin credentials (Basic) required")
        return view(*args, **kwargs)

    return cast(F, wrapped)


def admin_page(view: F) -> F:
    """Admin pages: the logged-in admin session, else a redirect to the login form."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not is_admin_session():
            flash("Please log in as admin to continue.", "info")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(F, wrapped)
