"""The checkout page, the payment form's target and the confirmation page."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, session, url_for
from flask_limiter import Limiter
from sqlalchemy import select, update
from werkzeug.wrappers import Response

from musicstore.cart.attempts import SETTLING, CheckoutRefused
from musicstore.cart.checkout import Checkout
from musicstore.cart.context import cart_settings, checkout_service, priced_cart, request_fields
from musicstore.cart.identity import cart_or_address, current_cart_id
from musicstore.cart.models import COMPLETED, CheckoutAttempt
from musicstore.cart.outcomes import BEING_CONFIRMED, CheckoutOutcome
from musicstore.cart.payment import InvalidPaymentForm, validate_payment_form
from musicstore.cart.pricing import PricedCart
from musicstore.common.bulkhead import bulkhead
from musicstore.common.db import get_database
from musicstore.common.errors import ApiError, wants_json
from musicstore.common.keys import CHECKOUT_KEY_RULE, is_checkout_key

FIX_FIELDS = "Please correct the highlighted fields."
MAX_TOTAL = Decimal("100000000")  # far above any cart (100 lines of 10 copies under 10,000 each)
RETRY_PENDING = 2  # seconds a client waits before asking again about a checkout being confirmed
TOLD_PENDING = "checkout_pending"  # in the session: this visitor was answered "being confirmed" and waits to hear


def _checkout_service() -> Checkout:
    return checkout_service(current_app.extensions["payments_declined"].inc)


def _expected_total(values: Mapping[str, Any], errors: dict[str, str]) -> Decimal | None:
    """The total the shopper was shown, when sent (the checkout page always sends it)."""
    raw = values.get("expected_total")
    if raw is None or raw == "":
        return None
    try:
        amount = Decimal(str(raw).strip().lstrip("$"))
    except InvalidOperation:
        amount = Decimal("NaN")
    # Bounded before rounding: Decimal's context cannot round an amount of more than 28 digits.
    bounded = amount.is_finite() and 0 <= amount < MAX_TOTAL
    if isinstance(raw, bool) or not bounded or amount != round(amount, 2):
        errors["expected_total"] = 'The total shown must be an amount such as "19.99".'
        return None
    return amount


def _page(
    values: Mapping[str, Any],
    errors: Mapping[str, str],
    status: int = 200,
    key: str | None = None,
    priced: PricedCart | None = None,
) -> tuple[str, int]:
    """The checkout page, keeping what was typed except the card; a fresh key unless one is given."""
    kept = {k: values.get(k, "") for k in ("name", "email")}
    priced = priced or priced_cart(current_cart_id())
    return render_template(
        "checkout/index.html", cart=priced, key=key or str(uuid.uuid4()), values=kept, errors=errors, active_tab="cart"
    ), status


def _invalid(values: Mapping[str, Any], errors: dict[str, str], key: str) -> Response | tuple[str, int]:
    if wants_json():
        response = jsonify({"error": FIX_FIELDS, "fields": errors})
        response.status_code = 422
        return response
    flash(FIX_FIELDS, "error")
    # Nothing was attempted yet, so the fixed form continues the same checkout with the same key.
    return _page(values, errors, 422, key=key if is_checkout_key(key) else None)


def _answer(outcome: CheckoutOutcome, values: Mapping[str, Any]) -> Response | tuple[str, int]:
    if outcome.pending:
        session[TOLD_PENDING] = True  # the cart page looks for the outcome to tell only after this
    if wants_json():
        response = jsonify(outcome.as_json())
        response.status_code = outcome.status
        if outcome.pending:
            response.headers["Retry-After"] = str(RETRY_PENDING)
        return response
    if outcome.ok or outcome.pending:
        return redirect(url_for("checkout.confirmation", key=outcome.key), 303)
    flash(outcome.error or "The payment did not go through.", "error")
    # After a temporary failure (5xx) the same key runs the checkout again; after a final one it would
    # only repeat the answer, so the form gets a fresh key.
    return _page(values, {}, outcome.status, key=outcome.key if outcome.status >= 500 else None)


def checkout_blueprint(limiter: Limiter) -> Blueprint:
    """The checkout blueprint; payments are rate-limited per cart."""
    bp = Blueprint("checkout", __name__)

    @bp.get("/checkout")
    def checkout() -> Response | tuple[str, int]:
        """The order summary and the payment form."""
        priced = priced_cart(current_cart_id())
        if not priced.lines:
            flash("Your cart is empty.", "info")
            return redirect(url_for("cart.show"))
        return _page({}, {}, priced=priced)

    @bp.post("/process_payment")
    @limiter.limit(lambda: cart_settings().PAYMENT_RATE_LIMIT, key_func=cart_or_address)
    def process_payment() -> Response | tuple[str, int]:
        """Check the card, then reserve, pay and order once per idempotency key."""
        values = request_fields()
        key = str(values.get("idempotency_key") or "")
        errors: dict[str, str] = {}
        try:
            form = validate_payment_form(values)
        except InvalidPaymentForm as exc:
            errors = exc.errors
        if not is_checkout_key(key):
            errors["idempotency_key"] = f"A checkout key ({CHECKOUT_KEY_RULE}) is required."
        expected_total = _expected_total(values, errors)
        if errors:
            return _invalid(values, errors, key)
        cart_id = current_cart_id()
        if not cart_id:
            raise ApiError("Your cart is empty.", 400)
        try:
            with bulkhead("checkout").slot():
                outcome = _checkout_service().run(cart_id, key, form, expected_total)
        except CheckoutRefused as exc:
            raise ApiError(exc.message, exc.status) from None
        return _answer(outcome, values)

    @bp.get("/confirmation/<key>")
    def confirmation(key: str) -> Response | tuple[str, int, dict[str, str]]:
        """The confirmation of a checkout: the order, or "being confirmed" while its outcome is not known."""
        attempt = get_database(current_app).session.get(CheckoutAttempt, key) if is_checkout_key(key) else None
        if attempt is None or attempt.cart_id != current_cart_id():
            abort(404)
        if attempt.status in SETTLING:
            session[TOLD_PENDING] = True
            retry = {"Retry-After": str(RETRY_PENDING)}
            return render_template("checkout/pending.html", message=BEING_CONFIRMED, active_tab="cart"), 202, retry
        told(attempt.key)
        if attempt.status != COMPLETED:
            flash(attempt.error or "Your order could not be placed. Your cart has been kept.", "error")
            return redirect(url_for("cart.show"), 303)
        return render_template("checkout/confirmation.html", attempt=attempt, active_tab="cart"), 200, {}

    return bp


def tell_settled(cart_id: str | None) -> None:
    """Flash the outcome of this cart's checkouts that were answered "being confirmed" and have settled since.

    Only a visitor who was told "being confirmed" (a mark in their session) has anything to hear, so no other
    cart page asks the database (it did on every view: a sixth of a cart page's statements and time)."""
    if not cart_id or not session.get(TOLD_PENDING):
        return
    db = get_database(current_app).session
    waiting = db.scalars(
        select(CheckoutAttempt).where(CheckoutAttempt.cart_id == cart_id, CheckoutAttempt.shopper_waiting)
    ).all()
    if not any(attempt.status in SETTLING for attempt in waiting):
        session.pop(TOLD_PENDING, None)
    for attempt in waiting:
        if attempt.status in SETTLING:
            flash(BEING_CONFIRMED, "info")
            continue
        if attempt.status == COMPLETED:
            flash(f"Your order {attempt.order_number} is confirmed: thank you!", "success")
        else:
            flash(attempt.error or "Your order could not be placed. Your cart has been kept.", "error")
        told(attempt.key)


def told(key: str) -> None:
    """The shopper has seen the outcome of a checkout that was answered "being confirmed"."""
    with get_database(current_app).transaction() as db:
        db.execute(update(CheckoutAttempt).where(CheckoutAttempt.key == key).values(shopper_waiting=False))
