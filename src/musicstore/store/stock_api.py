"""The internal stock API: the cart reserves and releases at checkout, the order service returns a
cancelled order's stock; each is idempotent by reservation id."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from musicstore.common.auth import internal_api
from musicstore.common.bodies import json_object
from musicstore.common.db import get_database
from musicstore.common.errors import ApiError
from musicstore.store import stock
from musicstore.store.context import store_settings
from musicstore.store.schemas import ReleaseIn, ReserveIn, ReturnIn, album_json

bp = Blueprint("stock_api", __name__, url_prefix="/api/stock")


@bp.post("/reserve")
@internal_api
def reserve() -> Response:
    """Hold stock for every line of a checkout, or for none (409), answering its albums as sold now; refused (409,
    with the total now) when they cost another total than `expected_total`, the total the shopper was shown."""
    body = ReserveIn.model_validate(json_object())
    lines = [(line.album_id, line.quantity) for line in body.items]
    database = get_database(current_app)
    public_url = store_settings().STORE_PUBLIC_URL
    try:
        with database.transaction() as session:
            held = stock.reserve(session, body.reservation_id, lines, body.expected_total)
            albums = [album_json(album, public_url) for album in held.albums]
            answer = {**stock.reservation_json(held.reservation), "albums": albums}
    except stock.TotalChanged as exc:
        raise ApiError(f"the albums' total is now {exc.total:.2f}", 409, total=f"{exc.total:.2f}") from None
    except stock.StockUnavailable as exc:
        current_app.extensions["reservations_refused"].inc()
        raise ApiError(
            "not enough stock",
            409,
            unavailable=[
                {"album_id": s.album_id, "requested": s.requested, "available": s.available} for s in exc.shortages
            ],
        ) from None
    except stock.ReservationConflict:
        raise ApiError("this reservation_id was already used for other lines", 422) from None
    except stock.ReservationEnded as exc:
        raise ApiError(f"this reservation was {exc.status} and cannot be used again", 409) from None
    return jsonify(answer)


@bp.post("/release")
@internal_api
def release() -> Response:
    """Give a reservation's stock back (repeating it changes nothing)."""
    body = ReleaseIn.model_validate(json_object())
    try:
        with get_database(current_app).transaction() as session:
            answer = stock.reservation_json(stock.release(session, body.reservation_id))
    except stock.ReservationEnded:
        raise ApiError(
            "this reservation was returned (its order was cancelled): its stock is back already", 409
        ) from None
    return jsonify(answer)


@bp.post("/return")
@internal_api
def return_stock() -> Response:
    """Give a cancelled order's stock back once (repeating it changes nothing; 409 if it was released)."""
    body = ReturnIn.model_validate(json_object())
    try:
        with get_database(current_app).transaction() as session:
            reservation, returned_now = stock.return_stock(session, body.reservation_id)
            answer = stock.reservation_json(reservation)
    except stock.UnknownReservation:
        raise ApiError(f"reservation {body.reservation_id} not found", 404) from None
    except stock.ReservationEnded:
        raise ApiError("this reservation was released (its checkout failed): its stock is back already", 409) from None
    if returned_now:
        current_app.extensions["stock_returned"].inc()
    return jsonify(answer)
