"""The checkout sequence: reserve stock, take payment, make the order, then empty the ordered lines.

Every step is idempotent by the checkout's key: the order service receives it as Idempotency-Key,
the store's reservation id is derived from it, and the attempt and its outcome are kept in the cart
database, so submitting the same checkout twice makes one order and gets the same answer.

A final outcome (an order, a decline, a shortage, an order the order service refused) is kept for
good. A temporary failure (the store or the order service down or slow: a 5xx answer) is not: the
attempt is marked interrupted, and the same key runs the checkout again. The store never reserves
again under a released reservation id, so each run reserves under the key plus its attempt number;
the order service still sees the same key, so an order an earlier run made after all is answered
again, not made twice. Any failure after the reservation releases it and keeps the cart; when the
release itself fails, the attempt owes it, and the next request with the same key releases it first.

One checkout per cart at a time: before reserving, a run claims the cart for its key (carts.checkout_key),
in the same transaction that records or takes over its attempt, and frees it when the attempt ends, however
it ends. Another key (a second browser tab) meanwhile gets a 409 and nothing is reserved or ordered; a claim
silent for STALE_AFTER (its worker died) is taken over.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import RetryError, retry, retry_if_result, stop_after_delay, wait_fixed

from musicstore.cart import payment
from musicstore.cart.clients import OrdersClient, PlacedOrder, StockUnavailable, StoreClient
from musicstore.cart.items import cart_lines, remove_ordered
from musicstore.cart.models import COMPLETED, FAILED, INTERRUPTED, PENDING, Cart, CheckoutAttempt
from musicstore.cart.pricing import PricedCart, price_cart
from musicstore.common.db import utcnow
from musicstore.common.http import DownstreamError, DownstreamRejected
from musicstore.common.money import money

log = logging.getLogger(__name__)

KEEP_CART = "Your cart has been kept and no payment was taken."
STALE_AFTER = timedelta(minutes=2)  # a pending attempt (or a cart's claim) this old was abandoned by a crashed worker
CART_BUSY = "This cart is already being checked out in another window; refresh in a moment."


@dataclass(frozen=True)
class CheckoutOutcome:
    """How a checkout ended: an order, or a message and the status to answer with."""

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
        return self.error is None

    def as_json(self) -> dict[str, Any]:
        """The JSON answer of POST /process_payment."""
        if not self.ok:
            return {"error": self.error}
        return {
            "order_id": self.order_id,
            "order_number": self.order_number,
            "total": money(self.total or Decimal(0)),
            "tracking_url": self.tracking_url,
        }


class _StepFailed(Exception):
    """A step after the reservation failed; the reservation must be released."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class CheckoutRefused(Exception):
    """The checkout cannot start: empty cart, a key of another cart, one still in progress, or the cart is
    being checked out under another key (another window)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Checkout:
    """What one checkout needs: the cart database, the two downstream clients, the payment latency."""

    sessions: sessionmaker[Session]
    store: StoreClient
    orders: OrdersClient
    latency_ms: int = 0
    on_decline: Callable[[], None] = lambda: None
    pending_wait: float = 30.0

    def run(self, cart_id: str, key: str, form: payment.PaymentForm) -> CheckoutOutcome:
        """Check out the cart once for this key; a repeat answers what the first attempt got."""
        with self.sessions() as session:
            recorded = session.get(CheckoutAttempt, key)
        if recorded is None:
            started = self._start(cart_id, key)
            if isinstance(started, dict):
                return self._proceed(cart_id, key, 1, form, started)
            recorded = started
        if recorded.cart_id != cart_id:
            raise CheckoutRefused("This checkout key belongs to another cart.", 409)
        if recorded.status == INTERRUPTED:
            lines = self._take_over(recorded)
            if lines is not None:
                return self._retry(cart_id, recorded, form, lines)
        return self._repeat(cart_id, recorded, form)

    def _start(self, cart_id: str, key: str) -> dict[int, int] | CheckoutAttempt:
        """Claim the cart and record the attempt as pending, together; the cart's lines when this request
        now owns the checkout, else the attempt of this key that exists (a concurrent submit)."""
        try:
            with self.sessions() as session:
                lines = _claim_cart(session, cart_id, key)
                session.add(CheckoutAttempt(key=key, cart_id=cart_id, status=PENDING, attempt=1))
                session.commit()
            return lines
        except IntegrityError:  # the same key was recorded meanwhile; its claim of the cart stands
            with self.sessions() as session:
                found = session.get(CheckoutAttempt, key)
                assert found is not None
                return found

    def _repeat(self, cart_id: str, attempt: CheckoutAttempt, form: payment.PaymentForm) -> CheckoutOutcome:
        """The answer of an earlier or concurrent run; an abandoned one is taken over and finished."""
        if not (attempt.status == PENDING and _stale(attempt)):  # a silent run is not worth waiting for
            attempt = self._wait_for(attempt)
        if attempt.status == PENDING:
            lines = self._take_over(attempt)
            if lines is not None:
                return self._proceed(cart_id, attempt.key, attempt.attempt, form, lines)
            raise CheckoutRefused("This checkout is still being processed. Refresh in a moment.", 409)
        if attempt.release_owed and attempt.status == FAILED:
            self._settle(attempt.key, attempt.attempt)
        return _outcome(attempt, repeated=True)

    def _wait_for(self, attempt: CheckoutAttempt) -> CheckoutAttempt:
        """The attempt reloaded; waiting (bounded) while another request runs it, e.g. a double click."""

        @retry(
            retry=retry_if_result(lambda a: a.status == PENDING),
            wait=wait_fixed(0.1),
            stop=stop_after_delay(self.pending_wait),
        )
        def _reload() -> CheckoutAttempt:
            with self.sessions() as session:
                found = session.get(CheckoutAttempt, attempt.key)
                assert found is not None
                return found

        try:
            return _reload()
        except RetryError as exc:
            return exc.last_attempt.result()

    def _take_over(self, attempt: CheckoutAttempt) -> dict[int, int] | None:
        """Own an interrupted attempt, or a pending one nobody has touched for STALE_AFTER (its worker died),
        and its cart; the cart's lines, or None when another request owns the attempt."""
        if attempt.status == PENDING and not _stale(attempt):
            return None
        owned = update(CheckoutAttempt).where(CheckoutAttempt.key == attempt.key)
        if attempt.status == PENDING:  # still the same silent run, not a newer one
            owned = owned.where(CheckoutAttempt.status == PENDING, CheckoutAttempt.updated_at == attempt.updated_at)
        else:
            owned = owned.where(CheckoutAttempt.status == INTERRUPTED)
        with self.sessions() as session:
            lines = _claim_cart(session, attempt.cart_id, attempt.key)
            if not session.execute(owned.values(status=PENDING, updated_at=utcnow())).rowcount:  # type: ignore[attr-defined]
                session.rollback()  # and with it the claim: the request running this key holds the cart
                return None
            session.commit()
        return lines

    def _retry(
        self, cart_id: str, attempt: CheckoutAttempt, form: payment.PaymentForm, lines: dict[int, int]
    ) -> CheckoutOutcome:
        """Run an interrupted checkout again, under the next reservation id, after any release it owes."""
        if attempt.release_owed and not self._settle(attempt.key, attempt.attempt):
            return self._fail(attempt.key, 503, f"We can't reach the store right now. {KEEP_CART}", release_owed=True)
        number = attempt.attempt + 1
        with self.sessions.begin() as session:
            session.execute(update(CheckoutAttempt).where(CheckoutAttempt.key == attempt.key).values(attempt=number))
        log.info("checkout %s: running again (attempt %d)", attempt.key, number)
        return self._proceed(cart_id, attempt.key, number, form, lines)

    def _proceed(
        self, cart_id: str, key: str, attempt: int, form: payment.PaymentForm, lines: dict[int, int]
    ) -> CheckoutOutcome:
        """Price and reserve; then pay and order, releasing the reservation if either fails."""
        try:
            priced = price_cart(lines, self.store)
        except DownstreamError as exc:
            log.warning("checkout %s: store unavailable while pricing: %s", key, exc)
            return self._fail(key, 503, f"We can't reach the store right now. {KEEP_CART}")
        if priced.gone or not priced.lines:
            return self._fail(key, 409, "Some albums in your cart are no longer sold. Please review your cart.")
        try:
            self.store.reserve(reservation_id_for(key, attempt), sorted(priced.quantities().items()))
        except StockUnavailable as exc:
            return self._fail(key, 409, _shortage_message(priced, exc))
        except DownstreamError as exc:
            log.warning("checkout %s: reservation failed: %s", key, exc)
            message = f"We couldn't reserve your albums right now. {KEEP_CART}"
            return self._release_and_fail(key, attempt, 503, message)
        try:
            order = self._pay_and_order(key, form, priced)
        except _StepFailed as failed:
            return self._release_and_fail(key, attempt, failed.status, failed.message)
        return self._complete(cart_id, key, priced, order)

    def _pay_and_order(self, key: str, form: payment.PaymentForm, priced: PricedCart) -> PlacedOrder:
        """The simulated payment, then the order under the checkout's idempotency key."""
        result = payment.charge(form.card, self.latency_ms)
        if not result.approved:
            self.on_decline()
            log.info("checkout %s: payment declined (%s ending %s)", key, form.card.brand, form.card.last4)
            raise _StepFailed(402, f"{result.reason} Your cart has been kept.")
        try:
            return self.orders.create_order(key, order_body(form, priced))
        except DownstreamRejected as exc:
            log.warning("checkout %s: the order service refused the order (%s): %s", key, exc.status, exc.message)
            raise _StepFailed(*_refusal(exc)) from None
        except DownstreamError as exc:
            log.warning("checkout %s: order not made: %s", key, exc)
            raise _StepFailed(
                503, f"We couldn't place your order: the order service is not available. {KEEP_CART}"
            ) from None

    def _complete(self, cart_id: str, key: str, priced: PricedCart, order: PlacedOrder) -> CheckoutOutcome:
        """The order exists: take the ordered lines out of the cart and record the outcome."""
        if order.total != priced.total:
            log.warning("checkout %s: order total %s differs from the cart's %s", key, order.total, priced.total)
        with self.sessions.begin() as session:
            remove_ordered(session, cart_id, priced.quantities())
            attempt = session.get(CheckoutAttempt, key)
            assert attempt is not None
            _free_cart(session, cart_id, key)
            attempt.status, attempt.order_id, attempt.order_number = COMPLETED, order.id, order.order_number
            attempt.total, attempt.tracking_url = order.total, order.tracking_url
            attempt.error, attempt.error_status = None, None
        log.info("checkout %s: order %s placed for %s", key, order.order_number, money(order.total))
        return _outcome(attempt, repeated=False)

    def _release_and_fail(self, key: str, attempt: int, status: int, message: str) -> CheckoutOutcome:
        released = self._release(key, attempt)
        return self._fail(key, status, message, release_owed=not released)

    def _release(self, key: str, attempt: int) -> bool:
        """Give the attempt's reservation back; False when the store could not be told."""
        try:
            self.store.release(reservation_id_for(key, attempt))
            return True
        except DownstreamError as exc:
            # The store holds the stock until this reservation id is released: the next request
            # with this key tries again (see _settle), or an operator releases it by hand.
            log.error("checkout %s: could not release reservation %s: %s", key, reservation_id_for(key, attempt), exc)
            return False

    def _settle(self, key: str, attempt: int) -> bool:
        """Release the reservation an attempt still owes the store; True once it is released."""
        if not self._release(key, attempt):
            return False
        with self.sessions.begin() as session:
            session.execute(update(CheckoutAttempt).where(CheckoutAttempt.key == key).values(release_owed=False))
        return True

    def _fail(self, key: str, status: int, message: str, *, release_owed: bool = False) -> CheckoutOutcome:
        """Record a failure: final for a 4xx, interrupted (the key may run again) for a 5xx."""
        with self.sessions.begin() as session:
            attempt = session.get(CheckoutAttempt, key)
            assert attempt is not None
            _free_cart(session, attempt.cart_id, key)
            attempt.status = INTERRUPTED if status >= 500 else FAILED
            attempt.error, attempt.error_status, attempt.release_owed = message, status, release_owed
        return _outcome(attempt, repeated=False)


def _claim_cart(session: Session, cart_id: str, key: str) -> dict[int, int]:
    """Make this key the cart's one running checkout (in the session's transaction) and read the lines it buys.

    One atomic UPDATE: it succeeds when no checkout holds the cart, this key already does (a repeat), or the
    holder went silent for STALE_AFTER (its worker died). The lines are read after it, so a checkout that
    ended just before (and took its lines out) is seen.
    """
    now = utcnow()
    claimed = session.execute(
        update(Cart)
        .where(
            Cart.id == cart_id,
            or_(Cart.checkout_key.is_(None), Cart.checkout_key == key, Cart.checkout_started < now - STALE_AFTER),
        )
        .values(checkout_key=key, checkout_started=now)
    )
    if not claimed.rowcount and session.get(Cart, cart_id) is not None:  # type: ignore[attr-defined]
        raise CheckoutRefused(CART_BUSY, 409)
    lines = cart_lines(session, cart_id)
    if not lines:
        raise CheckoutRefused("Your cart is empty.", 400)
    return lines


def _free_cart(session: Session, cart_id: str, key: str) -> None:
    """End this key's claim of the cart (if it still holds it): another checkout may start."""
    session.execute(
        update(Cart)
        .where(Cart.id == cart_id, Cart.checkout_key == key)
        .values(checkout_key=None, checkout_started=None)
    )


def reservation_id_for(key: str, attempt: int = 1) -> str:
    """The store reservation id of a checkout's run: derived from its idempotency key and attempt number."""
    seed = key if attempt == 1 else f"{key}#{attempt}"  # the first run keeps the id earlier versions used
    return "cart-" + hashlib.sha256(seed.encode()).hexdigest()[:40]


def order_body(form: payment.PaymentForm, priced: PricedCart) -> dict[str, Any]:
    """The order service's request body: customer, card brand and last four, and the priced lines."""
    return {
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


def _shortage_message(priced: PricedCart, exc: StockUnavailable) -> str:
    titles = {line.album.id: line.album.title for line in priced.lines}
    parts = [f"only {s.available} of “{titles.get(s.album_id, s.album_id)}” left" for s in exc.shortages]
    detail = "; ".join(parts) if parts else "an album sold out"
    return f"Sorry, not enough stock: {detail}. Please adjust your cart."


def _stale(attempt: CheckoutAttempt) -> bool:
    """True when a pending attempt has not been touched for STALE_AFTER: its worker died."""
    touched = attempt.updated_at.replace(tzinfo=attempt.updated_at.tzinfo or UTC)
    return utcnow() - touched >= STALE_AFTER


def _refusal(exc: DownstreamRejected) -> tuple[int, str]:
    """The answer to an order the order service refused (4xx): not "unavailable", and not worth a retry."""
    if exc.status in (400, 409, 422):
        status = 409 if exc.status == 409 else 422
        return status, f"We couldn't place your order: the order service refused it ({exc.message}). {KEEP_CART}"
    # 401, 403, 404...: the cart's own call is wrong (a token, a URL); an operator must fix it, so a retry may pass.
    return 502, f"We couldn't place your order: the order service refused the cart's request. {KEEP_CART}"


def _outcome(attempt: CheckoutAttempt, *, repeated: bool) -> CheckoutOutcome:
    if attempt.status in (FAILED, INTERRUPTED):
        return CheckoutOutcome(
            key=attempt.key, status=attempt.error_status or 400, error=attempt.error, repeated=repeated
        )
    return CheckoutOutcome(
        key=attempt.key,
        status=200 if repeated else 201,
        order_id=attempt.order_id,
        order_number=attempt.order_number,
        total=attempt.total,
        tracking_url=attempt.tracking_url,
        repeated=repeated,
    )
