"""The outbox of stock returns: recorded with a cancellation, claimed by one worker at a time, done once.

Several worker threads (processes, replicas) may look at the table together. A row is claimed by an
UPDATE that only succeeds while the row is still due and not done, and that pushes `next_attempt_at`
past the time the delivery may take (a lease): whoever updated it sends it, the others skip it. A
worker that dies mid-delivery leaves the row to be claimed again once its lease ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from musicstore.orders.models import Order, StockReturn

MAX_ERROR = 500
RECORDED = "stock_return_recorded"  # in Session.info: this transaction recorded a return (see return_worker)


@dataclass(frozen=True)
class Claimed:
    """A row this worker now owns until its lease ends."""

    id: int
    order_id: int
    reservation_id: str
    attempts: int


def record(session: Session, order: Order) -> None:
    """Record that a cancelled order's reservation must go back to the store (in the cancellation's transaction)."""
    if order.reservation_id is None:
        return
    try:
        with session.begin_nested():
            session.add(StockReturn(order_id=order.id, reservation_id=order.reservation_id))
    except IntegrityError:
        return  # another order named the same reservation and recorded its return already: one return is enough
    session.info[RECORDED] = True


def claim_due(session: Session, *, now: datetime, lease: timedelta) -> Claimed | None:
    """The oldest due row, claimed for `lease`; None when nothing is due (or others claimed it first)."""
    due = (StockReturn.done_at.is_(None), StockReturn.next_attempt_at <= now)
    candidates = session.scalars(
        select(StockReturn.id).where(*due).order_by(StockReturn.next_attempt_at, StockReturn.id).limit(10)
    ).all()
    for row_id in candidates:
        claimed = session.execute(
            update(StockReturn)
            .where(StockReturn.id == row_id, *due)
            .values(next_attempt_at=now + lease, attempts=StockReturn.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            row = session.execute(
                select(StockReturn.order_id, StockReturn.reservation_id, StockReturn.attempts).where(
                    StockReturn.id == row_id
                )
            ).one()
            return Claimed(row_id, row.order_id, row.reservation_id, row.attempts)
    return None


def finish(session: Session, row_id: int, *, now: datetime, note: str | None = None) -> None:
    """The store has it (or had nothing to take back): the row is done for good."""
    session.execute(
        update(StockReturn)
        .where(StockReturn.id == row_id, StockReturn.done_at.is_(None))
        .values(done_at=now, last_error=note)
        .execution_options(synchronize_session=False)
    )


def retry_later(session: Session, row_id: int, *, at: datetime, error: str) -> None:
    """The store did not take it this time: try again at `at`."""
    session.execute(
        update(StockReturn)
        .where(StockReturn.id == row_id, StockReturn.done_at.is_(None))
        .values(next_attempt_at=at, last_error=error[:MAX_ERROR])
        .execution_options(synchronize_session=False)
    )


def next_due(session: Session) -> datetime | None:
    """When the earliest pending row is due, or None when every return is done."""
    return session.scalar(select(func.min(StockReturn.next_attempt_at)).where(StockReturn.done_at.is_(None)))


def pending(session: Session) -> int:
    """How many returns the store has not taken yet."""
    return session.scalar(select(func.count()).select_from(StockReturn).where(StockReturn.done_at.is_(None))) or 0
