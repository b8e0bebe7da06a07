"""The checkout sequence: reserve stock, take payment, make the order, then empty the ordered lines.

Every step is idempotent by the checkout's key: the order service receives it as Idempotency-Key,
the store's reservation id is derived from it and the run's number, and the attempt and its outcome
are kept in the cart database (states and moves: musicstore.cart.attempts), so submitting the same
checkout twice makes one order and gets the same answer.

One deadline bounds a run (CHECKOUT_TIMEOUT plus the payment's latency, an injected one included): every downstream call
waits at most the time left, and the order service is told to make no order after it. An order call
without a clear answer is not a "no": the cart asks by key (musicstore.cart.reconcile) before it
releases anything, and answers "pending" (202) while that cannot be known. A final outcome (an order,
a decline, a shortage, an order refused) is kept for good; after a temporary failure the attempt is
interrupted, with its reservation given back, and the same key runs again, asking first, reserving second.

One checkout per cart at a time: a run claims the cart for its key in the transaction that records
the attempt, and frees it when the attempt ends; another key (a second window) meanwhile gets a 409.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from tenacity import RetryError, retry, retry_if_result, stop_after_delay, wait_fixed

from musicstore.cart import payment
from musicstore.cart.attempts import (
    ABANDONED_GRACE,
    SETTLING,
    CheckoutRefused,
    abandoned,
    claim_cart,
    move,
    new_attempt,
    record,
    reservation_id_for,
)
from musicstore.cart.clients import PlacedOrder, StockUnavailable, TotalChanged
from musicstore.cart.models import FAILED, INTERRUPTED, PENDING, UNKNOWN, CheckoutAttempt
from musicstore.cart.outcomes import (
    KEEP_CART,
    CheckoutOutcome,
    order_body,
    outcome_of,
    refusal,
    shortage_message,
)
from musicstore.cart.pricing import PricedCart, price_cart, price_lines
from musicstore.cart.reconcile import Reconciler
from musicstore.common import deadline
from musicstore.common.db import utcnow
from musicstore.common.http import DownstreamError, DownstreamRejected, DownstreamUnavailable
from musicstore.common.money import money

log = logging.getLogger(__name__)


class _StepFailed(Exception):
    """A step after the reservation failed; the reservation must be released."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _OrderUnknown(Exception):
    """The order call gave no clear answer: the order may exist."""

    def __init__(self, answered: bool) -> None:
        super().__init__("order outcome unknown")
        self.answered = answered  # the order service itself answered, so its side of the call is over


@dataclass
class Checkout:
    """What one checkout needs: the reconciler (cart database and downstreams), the time limits, the payment."""

    reconciler: Reconciler
    latency_ms: int = 0
    timeout: float = 10.0
    on_decline: Callable[[], None] = lambda: None
    pending_wait: float = 10.0
    faults: payment.InjectedFaults = payment.NO_FAULTS
    _budget: timedelta = field(init=False)

    def __post_init__(self) -> None:
        self._budget = timedelta(seconds=self.timeout + (self.latency_ms + self.faults.latency_ms) / 1000)

    @property
    def stale_after(self) -> timedelta:
        """How long a run can possibly last: a claim of the cart older than this was abandoned."""
        return self._budget + ABANDONED_GRACE

    def run(
        self, cart_id: str, key: str, form: payment.PaymentForm, expected_total: Decimal | None = None
    ) -> CheckoutOutcome:
        """Check out the cart once for this key; a repeat answers the checkout's state now.

        A new key is the common case, so the attempt is recorded first and looked up only when its key is known.
        """
        started = self._start(cart_id, key)
        if isinstance(started, tuple):
            attempt, lines = started
            return self._proceed(cart_id, attempt, 1, form, lines, expected_total)
        attempt = started
        if attempt.cart_id != cart_id:
            raise CheckoutRefused("This checkout key belongs to another cart.", 409)
        return self._resume(cart_id, attempt, form, expected_total)

    def _start(self, cart_id: str, key: str) -> tuple[CheckoutAttempt, dict[int, int]] | CheckoutAttempt:
        """Record the attempt as pending, then claim the cart, together; the attempt and the cart's lines when this
        request now owns the checkout, else the attempt of this key that an earlier submit recorded."""
        attempt = new_attempt(key, cart_id, self._deadline())
        try:
            with self.reconciler.engine.begin() as connection:
                record(connection, attempt)  # a known key (a repeat, a concurrent submit) stops here, before the cart
                lines = claim_cart(connection, cart_id, key, self.stale_after)
            return attempt, lines
        except IntegrityError:
            found = self.reconciler.load(key)
            assert found is not None
            return found

    def _resume(
        self, cart_id: str, attempt: CheckoutAttempt, form: payment.PaymentForm, expected_total: Decimal | None
    ) -> CheckoutOutcome:
        """A submit of a known key: wait for the run under way, find out an unknown one, run an interrupted
        one again, or repeat a final answer."""
        if attempt.status == PENDING and not abandoned(attempt):
            attempt = self._wait_for(attempt)
        if attempt.status == UNKNOWN or abandoned(attempt):
            attempt = self.reconciler.settle(attempt)
        if attempt.status == INTERRUPTED:
            lines = self._take_over(attempt)
            if lines is not None:
                return self._retry(cart_id, attempt, form, lines, expected_total)
            attempt = self.reconciler.load(attempt.key) or attempt
        if attempt.status in SETTLING:
            return self._pending(attempt)
        if attempt.release_owed and attempt.status == FAILED:
            self.reconciler.settle_release(attempt)
        return outcome_of(attempt, repeated=True)

    def _wait_for(self, attempt: CheckoutAttempt) -> CheckoutAttempt:
        """The attempt reloaded; waiting (bounded) while another request runs it, e.g. a double click."""

        @retry(
            retry=retry_if_result(lambda a: a.status == PENDING and not abandoned(a)),
            wait=wait_fixed(0.1),
            stop=stop_after_delay(self.pending_wait),
        )
        def _reload() -> CheckoutAttempt:
            return self.reconciler.load(attempt.key) or attempt

        try:
            return _reload()
        except RetryError as exc:
            return exc.last_attempt.result()

    def _take_over(self, attempt: CheckoutAttempt) -> dict[int, int] | None:
        """Own an interrupted attempt and its cart; the cart's lines, or None when another request took it."""
        with self.reconciler.engine.begin() as connection:
            if not move(connection, attempt, PENDING, deadline=self._deadline()):
                return None
            return claim_cart(connection, attempt.cart_id, attempt.key, self.stale_after)

    def _retry(
        self,
        cart_id: str,
        attempt: CheckoutAttempt,
        form: payment.PaymentForm,
        lines: dict[int, int],
        expected_total: Decimal | None,
    ) -> CheckoutOutcome:
        """Run an interrupted checkout again: any release it owes first, then ask whether an earlier run's
        order exists after all, and only then reserve, under the next reservation id."""
        attempt = self.reconciler.load(attempt.key) or attempt
        if attempt.release_owed and not self.reconciler.settle_release(attempt):
            return self._end(attempt, 503, f"We can't reach the store right now. {KEEP_CART}", release_owed=True)
        try:
            order = self.reconciler.find(attempt.key)
        except DownstreamError as exc:
            log.warning("checkout %s: cannot ask the order service before running again: %s", attempt.key, exc)
            return self._end(attempt, 503, f"We can't reach the order service right now. {KEEP_CART}")
        if order is not None:
            log.error("checkout %s: an order was made after its run gave its stock back", attempt.key)
            return outcome_of(self.reconciler.complete(attempt, order), repeated=True)
        number = attempt.attempt + 1
        with self.reconciler.sessions.begin() as session:
            session.execute(update(CheckoutAttempt).where(CheckoutAttempt.key == attempt.key).values(attempt=number))
        log.info("checkout %s: running again (run %d)", attempt.key, number)
        return self._proceed(cart_id, self._load(attempt.key), number, form, lines, expected_total)

    def _proceed(
        self,
        cart_id: str,
        attempt: CheckoutAttempt,
        number: int,
        form: payment.PaymentForm,
        lines: dict[int, int],
        expected_total: Decimal | None,
    ) -> CheckoutOutcome:
        """Price, reserve, pay and order within the run's deadline; find out an order call without an answer.

        `attempt` is the pending attempt as this request recorded it: completing moves it from that state (a
        conditional UPDATE), so it is not read again; if the reconciler moved it meanwhile, the move finds out.
        """
        key = attempt.key
        try:
            with deadline.within(self._budget.total_seconds()):
                order = self._steps(key, number, form, lines, expected_total)
        except _OrderUnknown as unknown:
            settled = self.reconciler.settle(self._load(key), answered=unknown.answered)
            return self._pending(settled) if settled.status in SETTLING else outcome_of(settled, repeated=False)
        except _Ended as ended:
            return ended.outcome
        return outcome_of(self.reconciler.complete(attempt, order), repeated=False)

    def _steps(
        self,
        key: str,
        number: int,
        form: payment.PaymentForm,
        lines: dict[int, int],
        expected_total: Decimal | None,
    ) -> PlacedOrder:
        """The run itself; an outcome other than an order is raised as _Ended (or _OrderUnknown).

        The reservation prices the cart: the store answers the reserved albums as it sells them now, and refuses
        them at another total than the one the shopper was shown, so a purchase asks the store once. Only a
        refusal asks it again, for the albums' titles and whether they are still sold.
        """
        reservation_id = reservation_id_for(key, number)
        try:
            albums = self.reconciler.store.reserve(reservation_id, sorted(lines.items()), expected_total)
        except TotalChanged as changed:
            # A repeated reservation id may still hold its stock: it goes back before the run ends.
            raise self._released(key, 409, _changed_total(changed.total), total=changed.total) from None
        except StockUnavailable as exc:
            raise self._refused(key, lines, expected_total, exc) from None
        except DownstreamError as exc:
            log.warning("checkout %s: reservation failed: %s", key, exc)
            if not exc.sent:  # no try reached the store: nothing can have been reserved
                raise self._ended(key, 503, f"We can't reach the store right now. {KEEP_CART}") from None
            raise self._released(
                key, 503, f"The store did not answer: we couldn't reserve your albums. {KEEP_CART}"
            ) from None
        priced = price_lines(lines, {album.id: album for album in albums})
        try:
            if priced.gone:  # a repeated reservation whose album was deleted since: it goes back
                raise _StepFailed(409, "Some albums in your cart are no longer sold. Please review your cart.")
            return self._pay_and_order(key, form, priced, reservation_id)
        except _StepFailed as failed:
            raise self._released(key, failed.status, failed.message) from None

    def _refused(
        self, key: str, lines: dict[int, int], expected_total: Decimal | None, exc: StockUnavailable
    ) -> _Ended:
        """Why the store refused to reserve (nothing was reserved), in the order a shopper should hear it: albums no
        longer sold, a changed total, then the shortage."""
        try:
            priced = price_cart(lines, self.reconciler.store)
        except DownstreamError as error:
            log.warning("checkout %s: store unavailable while pricing a refused reservation: %s", key, error)
            return self._ended(key, 409, shortage_message(PricedCart([], []), exc))
        if priced.gone or not priced.lines:
            return self._ended(key, 409, "Some albums in your cart are no longer sold. Please review your cart.")
        if expected_total is not None and expected_total != priced.total:
            return self._ended(key, 409, _changed_total(priced.total), final=False, total=priced.total)
        return self._ended(key, 409, shortage_message(priced, exc))

    def _pay_and_order(
        self, key: str, form: payment.PaymentForm, priced: PricedCart, reservation_id: str
    ) -> PlacedOrder:
        """The simulated payment, then the order under the checkout's idempotency key (and its reservation,
        which the order service gives back to the store if the order is cancelled)."""
        result = payment.charge(form.card, self.latency_ms, self.faults)
        if not result.approved:
            self.on_decline()
            log.info("checkout %s: payment declined (%s ending %s)", key, form.card.brand, form.card.last4)
            raise _StepFailed(402, f"{result.reason} Your cart has been kept.")
        try:
            return self.reconciler.orders.create_order(key, order_body(form, priced, reservation_id))
        except DownstreamRejected as exc:
            log.warning("checkout %s: the order service refused the order (%s): %s", key, exc.status, exc.message)
            raise _StepFailed(*refusal(exc)) from None
        except DownstreamUnavailable as exc:
            if not exc.sent:  # it never reached the order service: certainly no order
                log.warning("checkout %s: order not made: %s", key, exc)
                raise _StepFailed(
                    503, f"We couldn't place your order: the order service is not available. {KEEP_CART}"
                ) from None
            log.warning("checkout %s: order call without a clear answer (%s); finding out", key, exc)
            raise _OrderUnknown(answered=exc.status is not None and exc.status != 504) from None
        except DownstreamError as exc:  # a malformed answer to a call that was carried out
            log.warning("checkout %s: unreadable answer to the order call (%s); finding out", key, exc)
            raise _OrderUnknown(answered=True) from None

    def _ended(self, key: str, status: int, message: str, *, final: bool | None = None, total: Any = None) -> _Ended:
        """The run ends without an order and without a reservation: recorded, ready to raise."""
        return _Ended(self._end(self._load(key), status, message, final=final, total=total))

    def _released(self, key: str, status: int, message: str, *, total: Decimal | None = None) -> _Ended:
        """The run ends without an order after reserving: the reservation goes back first. A changed total (with
        `total`) is not final: the same key may run again, as after a 5xx."""
        attempt = self._load(key)
        to = INTERRUPTED if status >= 500 or total is not None else FAILED
        ended = outcome_of(self.reconciler.release_and_end(attempt, to, status, message), repeated=False)
        return _Ended(replace(ended, total=total) if total is not None else ended)

    def _end(
        self,
        attempt: CheckoutAttempt,
        status: int,
        message: str,
        *,
        final: bool | None = None,
        total: Any = None,
        release_owed: bool = False,
    ) -> CheckoutOutcome:
        """Record a failure: final for a 4xx (unless told), interrupted (the key may run again) for a 5xx."""
        to = FAILED if (status < 500 if final is None else final) else INTERRUPTED
        ended = self.reconciler.end(attempt, to, status, message, release_owed=release_owed)
        outcome = outcome_of(ended, repeated=False)
        return (
            CheckoutOutcome(outcome.key, outcome.status, error=outcome.error, total=total)
            if total is not None
            else outcome
        )

    def _pending(self, attempt: CheckoutAttempt) -> CheckoutOutcome:
        """Answer "being confirmed" and remember that a shopper waits to hear the outcome."""
        with self.reconciler.sessions.begin() as session:
            session.execute(
                update(CheckoutAttempt).where(CheckoutAttempt.key == attempt.key).values(shopper_waiting=True)
            )
        return CheckoutOutcome(key=attempt.key, status=202)

    def _deadline(self) -> datetime:
        return utcnow() + self._budget

    def _load(self, key: str) -> CheckoutAttempt:
        attempt = self.reconciler.load(key)
        assert attempt is not None
        return attempt


def _changed_total(total: Decimal) -> str:
    return f"Your cart or its prices changed: the total is now ${money(total)}. Please check it."


class _Ended(Exception):
    """The run ended without an order; carries the outcome to answer."""

    def __init__(self, outcome: CheckoutOutcome) -> None:
        super().__init__(outcome.error)
        self.outcome = outcome
