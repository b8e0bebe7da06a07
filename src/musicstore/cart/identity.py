"""Who the cart belongs to (the cart_id cookie or X-Cart-Id), and which form posts the cart trusts."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request
from flask_limiter.util import get_remote_address

from musicstore.common.web import csrf

CART_COOKIE = "cart_id"
CART_HEADER = "X-Cart-Id"
CART_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CART_COOKIE_MAX_AGE = 30 * 24 * 3600
DEFAULT_PORTS = {"http": 80, "https": 443}
CROSS_SITE_FORM_ENDPOINTS = frozenset({"cart.add_to_cart"})


def current_cart_id(*, create: bool = False) -> str | None:
    """The visitor's cart id (header first, then cookie); a new random one when asked to create it."""
    if g.get("cart_id"):
        return str(g.cart_id)
    for raw in (request.headers.get(CART_HEADER, ""), request.cookies.get(CART_COOKIE, "")):
        if CART_ID.match(raw):
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


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL, or None when it has no usable origin."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


def from_trusted_origin() -> bool:
    """True when the request's Origin (or, lacking one, Referer) is the store's or the cart's public URL."""
    settings = current_app.config["SETTINGS"]
    source = request.headers.get("Origin") or request.headers.get("Referer") or ""
    origin = _origin(source)
    trusted = {_origin(settings.STORE_PUBLIC_URL), _origin(settings.CART_PUBLIC_URL)}
    return origin is not None and origin in trusted


def _check_csrf() -> None:
    """Forms need the cart's token, except the store's add-to-cart post from a trusted origin; JSON needs none."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True) or request.method != "POST" or request.is_json:
        return
    if request.endpoint is None:
        return  # no view matched: routing answers 404 or 405, and nothing is changed
    if request.endpoint in CROSS_SITE_FORM_ENDPOINTS and from_trusted_origin():
        return
    csrf.protect()


def init_identity(app: Flask) -> None:
    """Install the cart cookie and the cart's CSRF rule (in place of Flask-WTF's default check)."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(_check_csrf)
    app.after_request(_remember_cart)
