"""Error handling: JSON on API paths and for JSON clients, a page elsewhere; never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error a client caused, answered with a status and a message."""

    def __init__(self, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.extra = extra


class TooManyAttempts(Exception):
    """A client used up a rate limit we count ourselves (log-in attempts); answered 429 with Retry-After."""

    def __init__(self, limit: str, retry_after: int) -> None:
        super().__init__(limit)
        self.limit = limit
        self.retry_after = max(1, retry_after)


def wants_json() -> bool:
    """True for API paths and for clients that sent or asked for JSON."""
    if request.path.startswith("/api/") or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(message: str, status: int, **extra: Any) -> Response:
    """A JSON error or an error page, whichever the client wants."""
    if wants_json():
        response = jsonify({"error": message, **extra})
    else:
        response = Response(render_template("common/error.html", status=status, message=message))
    response.status_code = status
    return response


def describe_validation_error(exc: ValidationError) -> str:
    """A short, readable summary of what was wrong with a body."""
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _seconds_until_reset(exc: RateLimitExceeded) -> int:
    """Seconds until the limit that was hit lets the client in again (at least 1)."""
    try:
        return max(1, int(exc.limit.limit.get_expiry()))
    except (AttributeError, TypeError, ValueError):
        return 60


def _too_many(limit: str, seconds: int) -> Response:
    response = error_response(
        f"Too many attempts (the limit is {limit}). Please wait {seconds} seconds and try again.", 429
    )
    response.headers["Retry-After"] = str(seconds)
    return response


def register_error_handlers(app: Flask) -> None:
    """Install the handlers that turn every failure into a clean answer."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        """A refusal our code raised: its message and status."""
        return error_response(exc.message, exc.status, **exc.extra)

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError) -> Response:
        """A body that does not fit its schema: 422 naming the fields."""
        return error_response(describe_validation_error(exc), 422)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> Response:
        """A form without a valid CSRF token: 400, with what to do."""
        return error_response(
            f"The form expired or was not sent from this site ({exc.description}). Reload the page and try again.", 400
        )

    @app.errorhandler(RateLimitExceeded)
    def _rate_limited(exc: RateLimitExceeded) -> Response:
        """Over a rate limit: 429 with Retry-After."""
        return _too_many(exc.description or "", _seconds_until_reset(exc))

    @app.errorhandler(TooManyAttempts)
    def _too_many_attempts(exc: TooManyAttempts) -> Response:
        """Too many failed logins from an address: 429 with Retry-After."""
        return _too_many(exc.limit, exc.retry_after)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        """Werkzeug's own errors (404, 405, 401, ...) as JSON, with the headers they need."""
        response = error_response(exc.description or exc.name, exc.code or 500)
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        if exc.code == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="musicstore"'
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        """Anything else: rolled back, logged with its traceback, a plain 500 (never a traceback page)."""
        session = g.get("db_session")
        if session is not None:
            session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response("Something went wrong on our side. Please try again.", 500)
