"""The states of a checkout attempt, what may follow what, and the one-checkout-per-cart claim.

    pending ──► completed     the order exists (final)
       │  ├───► failed        a final refusal: decline, shortage, an order the order service refused
       │  ├───► interrupted   no order, reservation given back: the same key may run again (pending)
       │  └───► unknown       the order call may have been carried out: held until it is found out
    unknown ──► completed | interrupted   (musicstore.cart.reconcile finds out, by idempotency key)
    interrupted ──► pending               (a retry with the same key: it asks first, reserves second)
    pending ──► pending                   (a run abandoned past its deadline, taken over)

Every move is one conditional UPDATE from the state the mover saw, so two requests (or a request and
the reconciler) never both move an attempt: the second finds it moved and reads what happened.

NO_SYNC: these UPDATEs run in short sessions that hold no object of the rows they change, so the ORM is told
not to look for such objects in the session (its "auto" search, evaluating the WHERE clause in Python, was a
tenth of a purchase's time in SQLAlchemy).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from musicstore.cart.items import cart_lines
from musicstore.cart.models import COMPLETED, FAILED, INTERRUPTED, PENDING, UNKNOWN, Cart, CheckoutAttempt
from musicstore.common.db import utcnow

TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({COMPLETED, FAILED, INTERRUPTED, UNKNOWN, PENDING}),
    UNKNOWN: frozenset({COMPLETED, INTERRUPTED}),
    INTERRUPTED: frozenset({PENDING}),
    COMPLETED: frozenset(),
    FAILED: frozenset(),
}
SETTLING = (PENDING, UNKNOWN)  # states that hold the cart's claim and possibly a reservation
LEGACY_BUDGET = timedelta(minutes=2)
ABANDONED_GRACE = timedelta(seconds=5)  # past its deadline a run only writes its outcome: a few database calls
CART_BUSY = "This cart is already being checked out in another window; refresh in a moment."


class CheckoutRefused(Exception):
    """The checkout cannot start: empty cart, a key of another cart, or the cart is being checked out under
    another key (another window)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def move(session: Session, attempt: CheckoutAttempt, to: str, **values: Any) -> bool:
    """Move the attempt from the state it was read in to `to` (in the session's transaction); False when
    another request or the reconciler moved it first. A move TRANSITIONS does not allow is a bug."""
    if to not in TRANSITIONS[attempt.status]:
        raise ValueError(f"a checkout attempt cannot go from {attempt.status} to {to}")
    moved = session.execute(
        update(CheckoutAttempt)
        .where(
            CheckoutAttempt.key == attempt.key,
            CheckoutAttempt.status == attempt.status,
            CheckoutAttempt.updated_at == attempt.updated_at,
        )
        .values(status=to, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)  # NO_SYNC: see the module's docstring
    )
    return bool(moved.rowcount)  # type: ignore[attr-defined]


def claim_cart(session: Session, cart_id: str, key: str, stale_after: timedelta) -> dict[int, int]:
    """Make this key the cart's one running checkout (in the session's transaction) and read the lines it buys.

    One atomic UPDATE: it succeeds when no checkout holds the cart, this key already does (a repeat), or the
    holder's run went past `stale_after` (its worker died) and its order is not waiting to be found out.
    The lines are read after it, so a checkout that ended just before (and took its lines out) is seen.
    """
    now = utcnow()
    unsettled = select(CheckoutAttempt.key).where(CheckoutAttempt.status == UNKNOWN)
    claimed = session.execute(
        update(Cart)
        .where(
            Cart.id == cart_id,
            or_(
                Cart.checkout_key.is_(None),
                Cart.checkout_key == key,
                (Cart.checkout_started < now - stale_after) & Cart.checkout_key.not_in(unsettled),
            ),
        )
        .values(checkout_key=key, checkout_started=now)
        .execution_options(synchronize_session=False)  # NO_SYNC
    )
    if not claimed.rowcount and session.get(Cart, cart_id) is not None:  # type: ignore[attr-defined]
        raise CheckoutRefused(CART_BUSY, 409)
    lines = cart_lines(session, cart_id)
    if not lines:
        raise CheckoutRefused("Your cart is empty.", 400)
    return lines


def free_cart(session: Session, cart_id: str, key: str) -> bool:
    """End this key's claim of the cart (if it still holds it): another checkout may start. True when it held it
    (the cart's row is then locked for the rest of the transaction, as lock_cart would)."""
    freed = session.execute(
        update(Cart)
        .where(Cart.id == cart_id, Cart.checkout_key == key)
        .values(checkout_key=None, checkout_started=None)
        .execution_options(synchronize_session=False)  # NO_SYNC
    )
    return bool(freed.rowcount)  # type: ignore[attr-defined]


def aware(moment: datetime | None) -> datetime | None:
    """A stored time as timezone-aware UTC (SQLite keeps no zone)."""
    return None if moment is None else moment.replace(tzinfo=moment.tzinfo or UTC)


def abandoned(attempt: CheckoutAttempt, now: datetime | None = None) -> bool:
    """True when a pending attempt is past its deadline (and the grace to record its outcome): no request
    can still be running it, its worker died."""
    return attempt.status == PENDING and (now or utcnow()) > _deadline(attempt) + ABANDONED_GRACE


def order_call_over(attempt: CheckoutAttempt, now: datetime | None = None) -> bool:
    """True once the order service can no longer make this run's order: the run's deadline has passed."""
    return (now or utcnow()) > _deadline(attempt)


def _deadline(attempt: CheckoutAttempt) -> datetime:
    """The attempt's deadline; attempts recorded before deadlines were kept had two minutes from their last move."""
    limit = aware(attempt.deadline)
    if limit is None:
        touched = aware(attempt.updated_at)
        assert touched is not None
        return touched + LEGACY_BUDGET
    return limit


def reservation_id_for(key: str, attempt: int = 1) -> str:
    """The store reservation id of a checkout's run: derived from its idempotency key and run number.

    The store never reserves again under a released id, so each run of a key reserves under its own.
    """
    seed = key if attempt == 1 else f"{key}#{attempt}"  # the first run keeps the id earlier versions used
    return "cart-" + hashlib.sha256(seed.encode()).hexdigest()[:40]
