"""The cart page and its changes: add, change quantity, remove (forms and JSON alike)."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, url_for
from werkzeug.wrappers import Response as BaseResponse

from musicstore.cart.checkout_views import tell_settled
from musicstore.cart.clients import Album
from musicstore.cart.context import (
    STORE_DOWN,
    cart_settings,
    get_clients,
    priced_cart,
    request_fields,
    store_albums,
    store_calls,
)
from musicstore.cart.identity import current_cart_id
from musicstore.cart.items import NEW_CART, NEW_LINE, cart_lines, line_quantity, lock_cart, remove_line, set_quantity
from musicstore.common.db import MAX_ID, get_database, utcnow
from musicstore.common.errors import ApiError, error_response, wants_json
from musicstore.common.http import DownstreamError

bp = Blueprint("cart", __name__)

WHOLE = re.compile(r"^\s*\d{1,9}\s*$")


@bp.errorhandler(ApiError)
def refused(exc: ApiError) -> BaseResponse | tuple[str, int]:
    """A refused change: JSON for JSON clients, else the cart page with the message."""
    if wants_json():
        return error_response(exc.message, exc.status, **exc.extra)
    flash(exc.message, "error")
    return _cart_page(), exc.status


def whole_number(value: Any, low: int, high: int, message: str) -> int:
    """A whole number from low to high, from JSON or a form field; anything else is a 400 with the message."""
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and WHOLE.match(value):
        number = int(value)
    if number is None or not low <= number <= high:
        raise ApiError(message, 400)
    return number


def _album_id() -> int:
    message = f"album_id must be a whole number from 1 to {MAX_ID}"
    return whole_number(request_fields().get("album_id"), 1, MAX_ID, message)


def _quantity(low: int, default: Any = None) -> int:
    """The quantity asked for, with a message a shopper understands when it is not one ("0 removes" on a change)."""
    high = cart_settings().MAX_QUANTITY
    message = f"Choose a quantity from 1 to {high}" + (" (0 removes the album)." if low == 0 else ".")
    return whole_number(request_fields().get("quantity", default), low, high, message)


def _album(album_id: int) -> Album:
    """The album from the store; 404 when it does not sell it, 503 when it cannot say."""
    try:
        with store_calls():
            album = get_clients().store.get_album(album_id)
    except DownstreamError:
        raise ApiError(STORE_DOWN, 503) from None
    if album is None:
        raise ApiError(f"album {album_id} is not sold here", 404)
    return album


def _check_wanted(album: Album, wanted: int) -> None:
    limit = cart_settings().MAX_QUANTITY
    if wanted > limit:
        raise ApiError(f"You can have at most {limit} copies of an album in your cart.", 400)
    if wanted > album.stock:
        raise ApiError(f"Only {album.stock} of “{album.title}” in stock.", 409, available=album.stock)


def _changed(message: str, known: dict[int, Album] | None = None, lines: dict[int, int] | None = None) -> BaseResponse:
    """JSON clients get the new cart (priced with `known` albums when they cover it, of `lines` when the request
    knows them); forms go back to the cart page with a message."""
    if wants_json():
        cart_id = current_cart_id()
        return jsonify({**priced_cart(cart_id, known, lines).as_json(), "cart_id": cart_id, "message": message})
    flash(message, "success")
    return redirect(url_for("cart.show"), 303)


def _cart_page() -> str:
    tell_settled(current_cart_id())
    try:
        priced, store_down = priced_cart(current_cart_id()), False
    except ApiError:
        priced, store_down = None, True
    return render_template(
        "cart/index.html",
        cart=priced,
        store_down=store_down,
        active_tab="cart",
        max_quantity=cart_settings().MAX_QUANTITY,
    )


@bp.get("/")
def index() -> BaseResponse:
    """The cart service's home is the cart page."""
    return redirect(url_for("cart.show"))


@bp.get("/cart")
def show() -> str:
    """The cart page: covers, quantities, line totals and the total."""
    return _cart_page()


@bp.post("/add_to_cart")
def add_to_cart() -> BaseResponse:
    """Add copies of an album (from the store's shop page or a JSON client)."""
    album_id, quantity = _album_id(), _quantity(1, default=1)
    cart_id = current_cart_id(create=True)
    assert cart_id is not None
    database = get_database(current_app)
    if g.get("cart_is_new"):
        return _add_to_new_cart(cart_id, album_id, quantity)
    # One store call: the album, and the cart's other lines for the priced cart a JSON client gets back.
    albums = store_albums([*cart_lines(database.session, cart_id), album_id])
    album = _sold(albums, album_id)
    with database.transaction() as session:
        lock_cart(session, cart_id)
        wanted = line_quantity(session, cart_id, album_id) + quantity
        _check_wanted(album, wanted)
        set_quantity(session, cart_id, album_id, wanted)
    return _changed(f"Added “{album.title}” to your cart.", albums)


def _add_to_new_cart(cart_id: str, album_id: int, quantity: int) -> BaseResponse:
    """The first add of a visitor without a cart: its random id was made by this request, so nothing else can
    hold or change the cart, and two inserts make it (no lock, no lines to read before or after)."""
    album = _sold(store_albums([album_id]), album_id)
    _check_wanted(album, quantity)
    now = utcnow()
    with get_database(current_app).engine.begin() as connection:  # prebuilt Core: no ORM session, no objects
        connection.execute(NEW_CART, {"id": cart_id, "created_at": now, "updated_at": now})
        connection.execute(NEW_LINE, {"cart_id": cart_id, "album_id": album_id, "quantity": quantity, "added_at": now})
    return _changed(f"Added “{album.title}” to your cart.", {album_id: album}, {album_id: quantity})


def _sold(albums: dict[int, Album], album_id: int) -> Album:
    """The album among those the store answered; 404 when it does not sell it."""
    album = albums.get(album_id)
    if album is None:
        raise ApiError(f"album {album_id} is not sold here", 404)
    return album


@bp.post("/update_quantity")
def update_quantity() -> BaseResponse:
    """Set how many copies of an album the cart holds; 0 removes it."""
    album_id, quantity = _album_id(), _quantity(0)
    cart_id = current_cart_id()
    database = get_database(current_app)
    if not cart_id or not line_quantity(database.session, cart_id, album_id):
        raise ApiError(f"album {album_id} is not in your cart", 404)
    if quantity == 0:
        with database.transaction() as session:
            remove_line(session, cart_id, album_id)
        return _changed("Removed the album from your cart.")
    album = _album(album_id)
    _check_wanted(album, quantity)
    with database.transaction() as session:
        lock_cart(session, cart_id)
        set_quantity(session, cart_id, album_id, quantity)
    return _changed(f"Updated “{album.title}” to {quantity}.")


@bp.post("/remove_item")
def remove_item() -> BaseResponse:
    """Take an album out of the cart (removing one that is not there changes nothing)."""
    album_id = _album_id()
    cart_id = current_cart_id()
    if cart_id:
        with get_database(current_app).transaction() as session:
            remove_line(session, cart_id, album_id)
    return _changed("Removed the album from your cart.")
