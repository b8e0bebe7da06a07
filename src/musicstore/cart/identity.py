"""Who the cart belongs to (the cart_id cookie or X-Cart-Id), and which form posts the cart trusts."""

from __future__ import annotations

import re
import secrets

from flask import Flask, Response, current_app, g, jsonify, request
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError

from musicstore.common.auth import origin_of, origins_of
from musicstore.common.errors import ApiError
from musicstore.common.web import csrf

CART_COOKIE = "cart_id"
CART_HEADER = "X-Cart-Id"
CART_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CART_COOKIE_MAX_AGE = 30 * 24 * 3600
CROSS_SITE_FORM_ENDPOINTS = frozenset({"cart.add_to_cart"})
FORMS = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
BAD_CART_ID = "X-Cart-Id must be 16-64 letters, digits, '-' or '_' (the cart_id an earlier answer gave you)."
UNSUPPORTED_BODY = "send the body as JSON (Content-Type: application/json) or as a form"


def current_cart_id(*, create: bool = False) -> str | None:
    """The visitor's cart id (header first, then cookie); a new random one when asked to create it."""
    if g.get("cart_id"):
        return str(g.cart_id)
    for raw in (request.headers.get(CART_HEADER, ""), request.cookies.get(CART_COOKIE, "")):
        if CART_ID.fullmatch(raw):
            g.cart_id = raw
            return raw
    if not create:
        return None
    g.cart_id, g.cart_is_new = secrets.token_urlsafe(24), True
    return str(g.cart_id)


def cart_or_address() -> str:
    """The rate-limit key of a request: its cart, so shoppers behind one address are not throttled together."""
    cart_id = current_cart_id()
    return f"cart:{cart_id}" if cart_id else f"addr:{get_remote_address()}"


def _remember_cart(response: Response) -> Response:
    """Echo the cart id in X-Cart-Id; a cart made during the request also gets its cookie."""
    cart_id = g.get("cart_id")
    if cart_id:
        response.headers[CART_HEADER] = cart_id
        if g.get("cart_is_new"):
            response.set_cookie(
                CART_COOKIE,
                cart_id,
                max_age=CART_COOKIE_MAX_AGE,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure,
            )
    return response


def from_trusted_origin() -> bool:
    """True when the request's Origin (or, lacking one, Referer) is the store's or the cart's public URL.

    Locally http://127.0.0.1:5000 is the same shop as http://localhost:5000, so loopback names stand for each
    other; no other host does.
    """
    settings = current_app.config["SETTINGS"]
    source = request.headers.get("Origin") or request.headers.get("Referer") or ""
    origin = origin_of(source)
    return origin is not None and origin in origins_of(settings.STORE_PUBLIC_URL, settings.CART_PUBLIC_URL)


def _json_error(message: str, status: int) -> Response:
    """A JSON error whatever the client asked for: only API clients send these requests."""
    response = jsonify({"error": message})
    response.status_code = status
    return response


def _check_request() -> Response | None:
    """Refuse a malformed X-Cart-Id (400) or a body that is neither a form nor JSON (415), then check CSRF."""
    cart_header = request.headers.get(CART_HEADER)
    if cart_header is not None and not CART_ID.fullmatch(cart_header):
        return _json_error(BAD_CART_ID, 400)
    if request.method != "POST" or request.endpoint is None:
        return None  # no view matched: routing answers 404 or 405, and nothing is changed
    if not request.is_json and (request.mimetype or request.content_length) and request.mimetype not in FORMS:
        return _json_error(UNSUPPORTED_BODY, 415)
    _check_csrf()
    return None


def _check_csrf() -> None:
    """Forms need the cart's token, except the store's add-to-cart post from a trusted origin; JSON needs none."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True) or request.is_json:
        return
    if request.endpoint not in CROSS_SITE_FORM_ENDPOINTS:
        csrf.protect()
        return
    if from_trusted_origin():
        return
    try:
        csrf.protect()
    except CSRFError:
        store_url = current_app.config["SETTINGS"].STORE_PUBLIC_URL
        raise ApiError(
            "The shop's form was not sent from the shop's address, so the cart refused it. "
            f"Open the shop at {store_url}, or set STORE_PUBLIC_URL to the address you use.",
            400,
        ) from None


def _no_store(response: Response) -> Response:
    """Pages show the cart as it is now: never from a cache (nor the back button's page cache)."""
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


def init_identity(app: Flask) -> None:
    """Install the cart cookie, the request checks and the cart's CSRF rule (in place of Flask-WTF's default)."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(_check_request)
    app.after_request(_remember_cart)
    app.after_request(_no_store)
