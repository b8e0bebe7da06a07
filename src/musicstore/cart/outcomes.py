"""What a checkout answers: its outcome as JSON, and the messages and order body built on the way."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from musicstore.cart import payment
from musicstore.cart.attempts import SETTLING
from musicstore.cart.clients import StockUnavailable
from musicstore.cart.models import FAILED, INTERRUPTED, CheckoutAttempt
from musicstore.cart.pricing import PricedCart
from musicstore.common.http import DownstreamRejected
from musicstore.common.money import money

KEEP_CART = "Your cart has been kept and no payment was taken."

BEING_CONFIRMED = "Your order is being confirmed: the order service is slow to answer. This page will update."


@dataclass(frozen=True)
class CheckoutOutcome:
    """How a checkout ended (an order, or a message and a status), or that it is still being confirmed."""

    key: str
    status: int
    order_id: int | None = None
    order_number: str | None = None
    total: Decimal | None = None
    tracking_url: str | None = None
    error: str | None = None
    repeated: bool = False

    @property
    def ok(self) -> bool:
        """True when the order was made."""
        return self.error is None and self.status < 300 and not self.pending

    @property
    def pending(self) -> bool:
        """True while the outcome cannot be known (202)."""
        return self.status == 202

    def as_json(self) -> dict[str, Any]:
        """The JSON answer of POST /process_payment."""
        if self.pending:
            return {"status": "pending", "message": BEING_CONFIRMED}
        if not self.ok:
            extra = {"total": money(self.total)} if self.total is not None else {}
            return {"error": self.error, **extra}
        return {
            "order_id": self.order_id,
            "order_number": self.order_number,
            "total": money(self.total or Decimal(0)),
            "tracking_url": self.tracking_url,
        }


def order_body(form: payment.PaymentForm, priced: PricedCart, reservation_id: str) -> dict[str, Any]:
    """The order service's request body: customer, card brand and last four, the reservation, the priced lines."""
    return {
        "reservation_id": reservation_id,
        "customer_name": form.name,
        "customer_email": form.email,
        "card_brand": form.card.brand,
        "card_last4": form.card.last4,
        "items": [
            {
                "album_id": line.album.id,
                "title": line.album.title,
                "artist": line.album.artist,
                "unit_price": money(line.album.price),
                "quantity": line.quantity,
            }
            for line in priced.lines
        ],
    }


def shortage_message(priced: PricedCart, exc: StockUnavailable) -> str:
    """Which albums are short, by title."""
    titles = {line.album.id: line.album.title for line in priced.lines}
    parts = [f"only {s.available} of “{titles.get(s.album_id, s.album_id)}” left" for s in exc.shortages]
    detail = "; ".join(parts) if parts else "an album sold out"
    return f"Sorry, not enough stock: {detail}. Please adjust your cart."


def refusal(exc: DownstreamRejected) -> tuple[int, str]:
    """The answer to an order the order service refused (4xx): not "unavailable", and not worth a retry."""
    if exc.status in (400, 409, 422):
        status = 409 if exc.status == 409 else 422
        return status, f"We couldn't place your order: the order service refused it ({exc.message}). {KEEP_CART}"
    # 401, 403, 404...: the cart's own call is wrong (a token, a URL); an operator must fix it, so a retry may pass.
    return 502, f"We couldn't place your order: the order service refused the cart's request. {KEEP_CART}"


def outcome_of(attempt: CheckoutAttempt, *, repeated: bool) -> CheckoutOutcome:
    """The answer an attempt gives now: pending, its failure, or its order."""
    if attempt.status in SETTLING:
        return CheckoutOutcome(key=attempt.key, status=202, repeated=repeated)
    if attempt.status in (FAILED, INTERRUPTED):
        return CheckoutOutcome(
            key=attempt.key, status=attempt.error_status or 400, error=attempt.error, repeated=repeated
        )
    return CheckoutOutcome(
        key=attempt.key,
        status=201,  # for good: the same key again gets the same answer (DESIGN.md)
        order_id=attempt.order_id,
        order_number=attempt.order_number,
        total=attempt.total,
        tracking_url=attempt.tracking_url,
        repeated=repeated,
    )
