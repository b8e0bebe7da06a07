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

PREBUILT: the statements are built once, of the tables' columns, and run as plain Core, on a connection or in a
session alike: the ORM's statements, built, keyed and compiled for the ORM on every call (and its "auto" search of
the session for objects of the rows they change), were most of a payment's own time in the cart (#16).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, Update, bindparam, insert, or_, select, update

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


_ATTEMPTS = cast(Table, CheckoutAttempt.__table__)
_A = _ATTEMPTS.c
_CARTS = cast(Table, Cart.__table__)
_C = _CARTS.c
RECORD = insert(_ATTEMPTS)  # PREBUILT
# The cart is free, already this key's, or held past the stale bound by a run whose order is not waiting to be found
CLAIM = (
    update(_CARTS)
    .where(
        _C.id == bindparam("cart_id"),
        or_(
            _C.checkout_key.is_(None),
            _C.checkout_key == bindparam("key"),
            (_C.checkout_started < bindparam("stale_before"))
            & _C.checkout_key.not_in(select(_A.key).where(_A.status == UNKNOWN)),
        ),
    )
    .values(checkout_key=bindparam("key"), checkout_started=bindparam("now"))
)
FREE = (
    update(_CARTS)
    .where(_C.id == bindparam("cart_id"), _C.checkout_key == bindparam("key"))
    .values(checkout_key=None, checkout_started=None)
)
CART_EXISTS = select(_C.id).where(_C.id == bindparam("cart_id"))
_MOVES: dict[tuple[str, ...], Update] = {}  # one statement per set of columns a move writes besides the status


def new_attempt(key: str, cart_id: str, deadline: datetime) -> CheckoutAttempt:
    """A pending first run of a checkout, every column given: once recorded, the object is the row as stored."""
    now = utcnow()
    return CheckoutAttempt(
        key=key,
        cart_id=cart_id,
        status=PENDING,
        attempt=1,
        release_owed=False,
        deadline=deadline,
        shopper_waiting=False,
        created_at=now,
        updated_at=now,
    )


def record(connection: Connection, attempt: CheckoutAttempt) -> None:
    """Insert a new attempt as built (new_attempt); IntegrityError when its key is known."""
    connection.execute(RECORD, {column.key: getattr(attempt, column.key) for column in _ATTEMPTS.columns})


def move(connection: Connection, attempt: CheckoutAttempt, to: str, **values: Any) -> bool:
    """Move the attempt from the state it was read in to `to` (in the transaction); False when another request or
    the reconciler moved it first. A move TRANSITIONS does not allow is a bug."""
    if to not in TRANSITIONS[attempt.status]:
        raise ValueError(f"a checkout attempt cannot go from {attempt.status} to {to}")
    names = tuple(sorted(values))
    moved = connection.execute(
        _move_statement(names),
        {
            "seen_key": attempt.key,
            "seen_status": attempt.status,
            "seen_at": attempt.updated_at,
            "to": to,
            "now": utcnow(),
            **{f"new_{name}": value for name, value in values.items()},
        },
    )
    return bool(moved.rowcount)


def _move_statement(names: tuple[str, ...]) -> Update:
    """The prebuilt move that writes these columns besides the status (built on first use)."""
    statement = _MOVES.get(names)
    if statement is not None:
        return statement
    statement = (
        update(_ATTEMPTS)
        .where(
            _A.key == bindparam("seen_key"),
            _A.status == bindparam("seen_status"),
            _A.updated_at == bindparam("seen_at"),
        )
        .values(
            status=bindparam("to"), updated_at=bindparam("now"), **{name: bindparam(f"new_{name}") for name in names}
        )
    )
    _MOVES[names] = statement  # two threads may both build it: either is the same statement
    return statement


def claim_cart(connection: Connection, cart_id: str, key: str, stale_after: timedelta) -> dict[int, int]:
    """Make this key the cart's one running checkout (in the transaction) and read the lines it buys.

    One atomic UPDATE: it succeeds when no checkout holds the cart, this key already does (a repeat), or the
    holder's run went past `stale_after` (its worker died) and its order is not waiting to be found out.
    The lines are read after it, so a checkout that ended just before (and took its lines out) is seen.
    """
    now = utcnow()
    claimed = connection.execute(CLAIM, {"cart_id": cart_id, "key": key, "now": now, "stale_before": now - stale_after})
    if not claimed.rowcount and connection.execute(CART_EXISTS, {"cart_id": cart_id}).first() is not None:
        raise CheckoutRefused(CART_BUSY, 409)
    lines = cart_lines(connection, cart_id)
    if not lines:
        raise CheckoutRefused("Your cart is empty.", 400)
    return lines


def free_cart(connection: Connection, cart_id: str, key: str) -> bool:
    """End this key's claim of the cart (if it still holds it): another checkout may start. True when it held it
    (the cart's row is then locked for the rest of the transaction, as lock_cart would)."""
    return bool(connection.execute(FREE, {"cart_id": cart_id, "key": key}).rowcount)


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
