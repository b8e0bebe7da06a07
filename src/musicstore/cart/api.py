"""The cart's JSON API: the cart with the store's current prices."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from musicstore.cart.context import priced_cart
from musicstore.cart.identity import current_cart_id

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/cart")
def get_cart() -> Response:
    """The visitor's cart: lines with title, artist, unit price and line total; the total and the count."""
    cart_id = current_cart_id()
    return jsonify({**priced_cart(cart_id).as_json(), "cart_id": cart_id})
