"""The internal order API the cart calls: create (idempotent), list, read and change status."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from musicstore.common.auth import admin_decision_api, internal_api
from musicstore.common.bodies import json_object
from musicstore.common.db import get_database
from musicstore.common.deadline import caller_deadline_passed
from musicstore.common.errors import ApiError
from musicstore.common.faults import fail_if_on
from musicstore.common.keys import IDEMPOTENCY_KEY_RULE, is_idempotency_key
from musicstore.common.pagination import page_args
from musicstore.common.text import MAX_EMAIL, query_text
from musicstore.orders import list_cache, rules, service
from musicstore.orders.schemas import OrderIn, StatusIn, order_json
from musicstore.orders.settings import OrderSettings

bp = Blueprint("api", __name__, url_prefix="/api/orders")


def _public_url() -> str:
    settings: OrderSettings = current_app.config["SETTINGS"]
    return settings.ORDER_PUBLIC_URL


def _idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise ApiError("the Idempotency-Key header is required", 400)
    if not is_idempotency_key(key):
        raise ApiError(f"the Idempotency-Key header must be {IDEMPOTENCY_KEY_RULE}", 400)
    return key


def _idempotency_key_filter() -> str:
    key = request.args.get("idempotency_key", "")
    if key and not is_idempotency_key(key):
        raise ApiError(f"idempotency_key must be {IDEMPOTENCY_KEY_RULE}", 400)
    return key


@bp.post("")
@internal_api
def create() -> tuple[Response, int]:
    """Make an order (201), or answer the order this Idempotency-Key already made (200).

    No order is made once the caller's deadline (X-Request-Deadline) has passed: 503.
    """
    fail_if_on("ordersUnavailable", "the order service cannot take orders right now")
    key = _idempotency_key()
    data = OrderIn.model_validate(json_object())
    try:
        order, created = service.place_order(
            get_database(current_app), key=key, data=data, caller_gave_up=caller_deadline_passed
        )
    except service.CallerGaveUp:
        raise ApiError("the caller's deadline passed; no order was made", 503) from None
    except service.IdempotencyConflict:
        raise ApiError(
            "this Idempotency-Key was already used for a different order; use a new key for a new order", 422
        ) from None
    if created:
        current_app.extensions["orders_created"].inc()
    return jsonify(order_json(order, _public_url())), 201 if created else 200


@bp.get("")
@internal_api
@list_cache.cached
def list_orders() -> Response:
    """A page of orders, newest first, filtered by status, customer e-mail and the idempotency key that made one."""
    page, per_page = page_args(request.args)
    status = query_text(request.args, "status")
    if status and status not in rules.STATUSES:
        raise ApiError(f"status must be one of {', '.join(rules.STATUSES)}", 400)
    email = query_text(request.args, "customer_email", max_length=MAX_EMAIL)
    where = service.OrderFilter(status=status, customer_email=email, idempotency_key=_idempotency_key_filter())
    found = service.search_orders(get_database(current_app).session, where, page=page, per_page=per_page)
    public_url = _public_url()
    return jsonify(found.as_json(lambda order: order_json(order, public_url)))


@bp.get("/<int(signed=True):order_id>")
@internal_api
def get_order(order_id: int) -> Response:
    """One order."""
    try:
        order = service.get_order(get_database(current_app).session, order_id)
    except service.OrderNotFound:
        raise ApiError(f"order {order_id} not found", 404) from None
    return jsonify(order_json(order, _public_url()))


@bp.put("/<int(signed=True):order_id>/status")
@admin_decision_api
def change_status(order_id: int) -> Response:
    """Move an order along pending → confirmed → shipped → delivered, or cancel it (409 if not allowed)."""
    body = StatusIn.model_validate(json_object())
    try:
        with get_database(current_app).transaction() as session:
            order = service.change_status(session, order_id, body.status)
    except service.OrderNotFound:
        raise ApiError(f"order {order_id} not found", 404) from None
    except rules.TransitionRefused as exc:
        raise ApiError(str(exc), 409, current_status=exc.current, allowed=list(exc.allowed)) from None
    return jsonify(order_json(order, _public_url()))
