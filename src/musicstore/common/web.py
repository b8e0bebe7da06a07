"""What every service's create_app sets up: config, logs, errors, CSRF, headers, metrics, limits."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, Flask, Request, Response, current_app, redirect, request
from flask.globals import request_ctx
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask_limiter import HeaderNames, Limiter
from flask_limiter.util import get_remote_address
from flask_wtf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response as WerkzeugResponse

from musicstore.common.auth import is_admin_session
from musicstore.common.errors import register_error_handlers
from musicstore.common.limit_storage import storage_uri
from musicstore.common.logs import init_request_ids
from musicstore.common.metrics import Metrics
from musicstore.common.money import money, money_grouped
from musicstore.common.settings import ServiceSettings

csrf = CSRFProtect()


ui = Blueprint("ui", __name__, template_folder="templates", static_folder="static", static_url_path="/static/common")


def init_common(app: Flask, service: str, settings: ServiceSettings, *, extra: dict[str, Any] | None = None) -> Limiter:
    """Bind the shared pieces to a service's app and return its rate limiter."""
    app.config.update(settings.flask_config())
    app.config["SECRET_KEY"] = service_secret_key(settings.SECRET_KEY, service)
    app.config["SERVICE_NAME"] = service
    # Cookies ignore ports: on localhost each service needs its own session cookie name.
    app.config["SESSION_COOKIE_NAME"] = f"{service}_session"
    app.config.setdefault("LOGIN_RATE_LIMIT", "10 per minute")
    app.config.update(extra or {})
    app.add_template_filter(money, "money")
    app.add_template_filter(money_grouped, "money_grouped")
    if settings.FORWARDED_HOPS:
        hops = settings.FORWARDED_HOPS
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[method-assign]
    app.session_interface = SecureWhenHttps()
    init_request_ids(app)
    register_error_handlers(app)
    _csrf_check_only_for_unsafe_methods(app)
    Metrics(service).init_app(app)
    app.register_blueprint(ui)
    app.after_request(_add_security_headers(security_headers(settings)))
    app.before_request(_to_the_public_loopback_name)
    app.context_processor(lambda: _template_context(settings))
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=storage_uri(settings.RATELIMIT_STORAGE_URI),  # memory://: one count for the server's workers
        # The limits are brakes: a count that cannot be kept (the store down, its file locked) lets the request
        # through, logged, rather than failing it (a payment, a log-in) with a 500.
        storage_options={"wrap_exceptions": True},
        swallow_errors=True,
        headers_enabled=True,
        # The limiter would put its window's reset into Retry-After on every answer, over the one a 202 or a
        # 503 sets; a 429 gets its Retry-After from our handler (errors.py), the window's goes to its own header.
        header_name_mapping={HeaderNames.RETRY_AFTER: "X-RateLimit-Retry-After"},
        enabled=app.config.get("RATELIMIT_ENABLED", True),
    )
    # Every limit of ours is a decorator on its view (payment) or a direct use of the storage (log-in), and a
    # decorated view checks its own limits when it runs. The limiter's per-request hook is for default and
    # blueprint limits, which we have none of: it only resolved "no limits" for every request (a tenth of a
    # cached album answer's time), so it is taken out.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    _limiter_hooks_only_after_a_limit(app, limiter)
    return limiter


def _csrf_check_only_for_unsafe_methods(app: Flask) -> None:
    """Flask-WTF's CSRF check, asked only of requests whose method it checks (POST, PUT, PATCH, DELETE).

    Its before-request hook looks up the view and builds its dotted name to see whether it is exempt before it
    looks at the method: on every GET (pages, APIs, probes, scrapes) for nothing, a twentieth of a /healthz
    answer's time in process. The check itself, and the exemptions, are Flask-WTF's as before."""
    hooks = app.before_request_funcs.setdefault(None, [])
    before = list(hooks)
    csrf.init_app(app)
    for index, hook in enumerate(hooks):
        if hook not in before:
            hooks[index] = _only_for_checked_methods(hook)


def _only_for_checked_methods(hook: Callable[[], Any]) -> Callable[[], Any]:
    def only_for_checked_methods() -> Any:
        # The methods as Flask-WTF reads them, on each request: the same answer for a method it does not check.
        return hook() if request.method in current_app.config["WTF_CSRF_METHODS"] else None

    return only_for_checked_methods


# Where Flask-Limiter keeps a request's state (its `context`): made by the first look at it, which a decorated
# view's check of its limits is.
LIMITER_STATE = "_limiter_request_context"


def _limiter_hooks_only_after_a_limit(app: Flask, limiter: Limiter) -> None:
    """The limiter's after-request hook (rate-limit headers) and teardown (its state's reset) run only for a
    request whose view checked a limit: on any other they made an empty state only to read or reset it (the
    two were a tenth of a /healthz answer's time in process)."""
    after = app.after_request_funcs[None]
    teardown = app.teardown_request_funcs[None]
    for hooks in (after, teardown):
        for index, hook in enumerate(hooks):
            if getattr(hook, "__self__", None) is limiter or limiter in getattr(hook, "args", ()):
                hooks[index] = _after_a_limit(hook, answers=hooks is after)


def _after_a_limit(hook: Callable[..., Any], *, answers: bool) -> Callable[..., Any]:
    def only_after_a_limit(argument: Any) -> Any:
        if hasattr(request_ctx._get_current_object(), LIMITER_STATE):  # type: ignore[attr-defined]
            return hook(argument)
        return argument if answers else None  # an after-request hook hands the response on

    return only_after_a_limit


def service_secret_key(secret_key: str, service: str) -> str:
    """The key a service signs its sessions and forms with: its own, derived from SECRET_KEY and its name.

    One service's session cookie (or CSRF token) is then worthless to another, though they share SECRET_KEY.
    """
    return hmac.new(secret_key.encode(), f"musicstore-{service}".encode(), hashlib.sha256).hexdigest()


class SecureWhenHttps(SecureCookieSessionInterface):
    """Session cookies are Secure whenever the request came over HTTPS (behind a proxy: as it says)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """A request without a session cookie (most: APIs, probes, scrapers, anonymous shoppers) gets an empty
        session as Flask's own would, without building the cookie signer Flask makes for every request."""
        if app.secret_key and ("HTTP_COOKIE" not in request.environ
                               or not request.cookies.get(self.get_cookie_name(app))):  # fmt: skip
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure by configuration, or because this request is HTTPS."""
        return bool(super().get_cookie_secure(app) or request.is_secure)

    def get_expiration_time(self, app: Flask, session: SessionMixin) -> datetime | None:
        """An admin session's cookie expires when the session ends (a fixed time after log-in), never later."""
        logged_in_at = session.get("login_at")
        if session.permanent and isinstance(logged_in_at, int):
            return datetime.fromtimestamp(logged_in_at + app.permanent_session_lifetime.total_seconds(), UTC)
        return super().get_expiration_time(app, session)


# Every page of these shows, or may show, a customer's data (names, e-mails, orders, cart lines).
CUSTOMER_DATA_SERVICES = frozenset({"orders", "cart"})

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Answers for programs, not pages: never redirected (an HTTP client drops Authorization on a redirect).
MACHINE_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})


def _to_the_public_loopback_name() -> WerkzeugResponse | None:
    """A page opened as 127.0.0.1 when the public URL says localhost (or the reverse) moves to the public name.

    Browsers treat the two names as different sites: the cart's cookie would not follow a shopper between them.
    Only loopback aliases on the same port are redirected, and only for page views (GET/HEAD), never the APIs,
    health checks or metrics.
    """
    if request.method not in ("GET", "HEAD") or request.path in MACHINE_PATHS or request.path.startswith("/api/"):
        return None
    settings: ServiceSettings = current_app.config["SETTINGS"]
    own = urlsplit(settings.public_url_of(current_app.config["SERVICE_NAME"]))
    if own.hostname not in LOOPBACK_NAMES or request.host == own.netloc:
        return None
    asked = urlsplit(request.host_url)
    if asked.hostname in LOOPBACK_NAMES and asked.port == own.port and asked.hostname != own.hostname:
        return redirect(f"{own.scheme}://{own.netloc}{_path_and_query()}", code=302)
    return None


def _path_and_query() -> str:
    """This request's path and query as they can go into a Location header (a CR/LF in a path is encoded)."""
    path = quote(request.path, safe="/!$&'()*+,;=:@-._~")
    query = quote(request.query_string.decode("latin-1"), safe="/?!$&'()*+,;=:@-._~%")
    return f"{path}?{query}" if query else path


def _template_context(settings: ServiceSettings) -> dict[str, Any]:
    return {
        "store_url": settings.STORE_PUBLIC_URL,
        "cart_url": settings.CART_PUBLIC_URL,
        "orders_url": settings.ORDER_PUBLIC_URL,
        "is_admin": is_admin_session(),
    }


def security_headers(settings: ServiceSettings) -> tuple[tuple[str, str], ...]:
    """The headers every answer of a service carries (made once: the public URLs do not change while it runs)."""
    forms = " ".join(sorted({settings.STORE_PUBLIC_URL, settings.CART_PUBLIC_URL, settings.ORDER_PUBLIC_URL}))
    return (
        (
            "Content-Security-Policy",
            # Covers are served by the store and shown on the cart's pages too.
            f"default-src 'self'; img-src 'self' data: {settings.STORE_PUBLIC_URL}; style-src 'self'; "
            f"script-src 'self'; form-action 'self' {forms}; frame-ancestors 'none'; base-uri 'none'; "
            "object-src 'none'",
        ),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
    )


def _add_security_headers(fixed: tuple[tuple[str, str], ...]) -> Callable[[Response], Response]:
    """The after-request hook that puts these headers on every answer (one a view set itself stays)."""

    def _security_headers(response: Response) -> Response:
        """CSP, nosniff, framing and referrer rules on every answer; no-store on pages with private data."""
        headers = response.headers
        present = {name.lower() for name, _value in headers.items()}
        for name, value in fixed:
            if name.lower() not in present:
                headers.add(name, value)
        if response.mimetype == "text/html" and _page_is_private():
            headers["Cache-Control"] = "no-store"
        return response

    return _security_headers


def _page_is_private() -> bool:
    """True for a page a browser or proxy must not keep: one with customer data, or one made for the admin."""
    return current_app.config["SERVICE_NAME"] in CUSTOMER_DATA_SERVICES or is_admin_session()
