"""Finding out what became of a checkout whose order call gave no clear answer, and settling it.

A timeout is not a "no" (DESIGN.md): the order may have been made. So the cart asks the order
service by idempotency key before it gives anything back. Found: the checkout completes (the ordered
lines leave the cart). Not found, once the run's deadline has passed (the order service makes no order
after the deadline it was sent): the reservation is released and the checkout is interrupted (the cart
is kept; the same key may run again). Not known yet (the order service does not answer): the attempt
stays `unknown`, holding its reservation, and the sweep below tries again every few seconds; a
checkout abandoned half-way by a killed worker (pending past its deadline) is settled the same way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from musicstore.cart.attempts import SETTLING, abandoned, free_cart, move, order_call_over, reservation_id_for
from musicstore.cart.clients import OrdersClient, PlacedOrder, StoreClient
from musicstore.cart.items import remove_ordered
from musicstore.cart.models import COMPLETED, FAILED, INTERRUPTED, PENDING, UNKNOWN, CheckoutAttempt
from musicstore.cart.outcomes import KEEP_CART
from musicstore.common import deadline
from musicstore.common.db import utcnow
from musicstore.common.http import DownstreamError
from musicstore.common.money import money

log = logging.getLogger(__name__)

NOT_PLACED = f"We couldn't place your order: the order service did not answer. {KEEP_CART}"
REFUSED_NOW = f"We couldn't place your order: the order service is not available. {KEEP_CART}"


@dataclass
class Reconciler:
    """Settles checkouts: completes them when their order exists, else gives their stock back."""

    sessions: sessionmaker[Session]
    store: StoreClient
    orders: OrdersClient
    lookup_seconds: float = 2.0

    @property
    def engine(self) -> Engine:
        """The cart database's engine, for the checkout's prebuilt statements (musicstore.cart.attempts)."""
        engine: Engine = self.sessions.kw["bind"]
        return engine

    def load(self, key: str) -> CheckoutAttempt | None:
        """The attempt of this key as it is now."""
        with self.sessions() as session:
            return session.get(CheckoutAttempt, key)

    def settle(self, attempt: CheckoutAttempt, *, answered: bool = False) -> CheckoutAttempt:
        """Find out whether the attempt's order exists and settle it if that is known now; the attempt after.

        `answered`: the order service answered the order call (with an error), so the call is over on its
        side and "no order" is final already before the deadline.
        """
        try:
            order = self.find(attempt.key)
        except DownstreamError as exc:
            log.warning("checkout %s: cannot find out whether the order was made yet: %s", attempt.key, exc)
            return self._hold(attempt)
        if order is not None:
            return self.complete(attempt, order)
        if answered or order_call_over(attempt):
            return self.release_and_end(attempt, INTERRUPTED, 503, REFUSED_NOW if answered else NOT_PLACED)
        return self._hold(attempt)

    def find(self, key: str) -> PlacedOrder | None:
        """The order this checkout key made, asked with a short deadline of its own."""
        with deadline.within(self.lookup_seconds):
            return self.orders.find_order(key)

    def complete(self, attempt: CheckoutAttempt, order: PlacedOrder) -> CheckoutAttempt:
        """The order exists: take its lines out of the cart and record the outcome, once."""
        outcome = {
            "order_id": order.id,
            "order_number": order.order_number,
            "total": order.total,
            "tracking_url": order.tracking_url,
            "error": None,
            "error_status": None,
        }
        with self.engine.begin() as connection:
            moved = move(connection, attempt, COMPLETED, **outcome)
            if moved:
                freed = free_cart(connection, attempt.cart_id, attempt.key)
                remove_ordered(connection, attempt.cart_id, order.quantities, locked=freed)
        if not moved:
            return self._reloaded(attempt)  # another request or the reconciler settled it first
        log.info("checkout %s: order %s placed for %s", attempt.key, order.order_number, money(order.total))
        return CheckoutAttempt(  # as just written: no need to read it back
            key=attempt.key,
            cart_id=attempt.cart_id,
            status=COMPLETED,
            attempt=attempt.attempt,
            release_owed=attempt.release_owed,
            deadline=attempt.deadline,
            shopper_waiting=attempt.shopper_waiting,
            created_at=attempt.created_at,
            **outcome,
        )

    def release_and_end(self, attempt: CheckoutAttempt, to: str, status: int, message: str) -> CheckoutAttempt:
        """Give the run's reservation back, then end the attempt as `to` (interrupted or failed), keeping the cart."""
        released = self.release(attempt.key, attempt.attempt)
        return self.end(attempt, to, status, message, release_owed=not released)

    def end(
        self, attempt: CheckoutAttempt, to: str, status: int, message: str, *, release_owed: bool = False
    ) -> CheckoutAttempt:
        """Record a failure and free the cart."""
        with self.engine.begin() as connection:
            if move(connection, attempt, to, error=message, error_status=status, release_owed=release_owed):
                free_cart(connection, attempt.cart_id, attempt.key)
        return self._reloaded(attempt)

    def release(self, key: str, number: int) -> bool:
        """Give a run's reservation back; False when the store could not be told (the attempt then owes it)."""
        reservation_id = reservation_id_for(key, number)
        try:
            with deadline.within(self.lookup_seconds):
                self.store.release(reservation_id)
            return True
        except DownstreamError as exc:
            log.error("checkout %s: could not release reservation %s: %s", key, reservation_id, exc)
            return False

    def sweep(self, limit: int = 50) -> int:
        """Settle the checkouts waiting to be found out, the ones abandoned past their deadline, and the releases
        that failed; how many."""
        return self._sweep_unsettled(limit) + self._sweep_owed_releases(limit)

    def settle_release(self, attempt: CheckoutAttempt) -> bool:
        """Release the reservation an ended attempt still owes the store; True once it is released."""
        if not self.release(attempt.key, attempt.attempt):
            return False
        with self.sessions.begin() as session:
            session.execute(
                update(CheckoutAttempt)
                .where(CheckoutAttempt.key == attempt.key, CheckoutAttempt.attempt == attempt.attempt)
                .values(release_owed=False)
            )
        return True

    def _sweep_owed_releases(self, limit: int) -> int:
        with self.sessions() as session:
            owing = session.scalars(
                select(CheckoutAttempt)
                .where(CheckoutAttempt.release_owed, CheckoutAttempt.status.in_((FAILED, INTERRUPTED)))
                .order_by(CheckoutAttempt.updated_at)
                .limit(limit)
            ).all()
        released = 0
        for attempt in owing:
            if not self.settle_release(attempt):
                break  # the store does not answer: the next sweep tries again
            released += 1
        return released

    def _sweep_unsettled(self, limit: int) -> int:
        now = utcnow()
        with self.sessions() as session:
            waiting = session.scalars(
                select(CheckoutAttempt)
                .where(or_(CheckoutAttempt.status == UNKNOWN, CheckoutAttempt.status == PENDING))
                .order_by(CheckoutAttempt.updated_at)
                .limit(limit)
            ).all()
        settled = 0
        for attempt in waiting:
            if attempt.status == PENDING and not abandoned(attempt, now):
                continue  # a request is running it
            if self.settle(attempt).status in SETTLING:
                break  # not known yet (the order service is silent): the next sweep asks again, not each one now
            settled += 1
        return settled

    def _hold(self, attempt: CheckoutAttempt) -> CheckoutAttempt:
        """Keep the reservation and wait: the attempt is (or stays) unknown."""
        if attempt.status == PENDING:
            with self.engine.begin() as connection:
                move(connection, attempt, UNKNOWN)
        return self._reloaded(attempt)

    def _reloaded(self, attempt: CheckoutAttempt) -> CheckoutAttempt:
        found = self.load(attempt.key)
        assert found is not None
        return found


class SweepThread:
    """Runs a sweep every `interval` seconds in the background of a service process, until stopped."""

    def __init__(self, sweep: Callable[[], int], interval: float) -> None:
        self.sweep = sweep
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="checkout-reconciler", daemon=True)

    def start(self) -> SweepThread:
        """Start sweeping."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the sweep under way."""
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                settled = self.sweep()
            except Exception:  # a database hiccup must not end the sweeping for good
                log.exception("checkout reconciliation failed; trying again in %gs", self.interval)
                continue
            if settled:
                log.info("checkout reconciliation settled %d checkout(s)", settled)
