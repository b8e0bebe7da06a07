"""The order service layer: idempotent creation, status changes and finding orders."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Connection, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from musicstore.common.db import MAX_ID, Database, utcnow
from musicstore.common.money import money
from musicstore.common.pagination import Page
from musicstore.common.text import has_control_characters
from musicstore.orders import outbox, rules
from musicstore.orders.models import Order, OrderLine
from musicstore.orders.schemas import OrderIn

log = logging.getLogger(__name__)


class IdempotencyConflict(Exception):
    """The idempotency key was already used for a different order."""


class OrderNotFound(Exception):
    """No order has this id."""


class CallerGaveUp(Exception):
    """The caller's deadline passed before the order was made: it is not made (the caller no longer waits)."""


def _never_gives_up() -> bool:
    return False


def _by_key(session: Session, key: str) -> Order | None:
    return session.scalars(select(Order).where(Order.idempotency_key == key)).one_or_none()


def _replay(order: Order, fingerprint: str) -> Order:
    if order.request_hash != fingerprint:
        raise IdempotencyConflict(order.idempotency_key)
    return order


def new_order(data: OrderIn, *, key: str, fingerprint: str | None = None) -> Order:
    """A pending order built from a validated body, its total recomputed from the lines, every column but the id
    given (so, once written, the object is the row as stored)."""
    now = utcnow()
    return Order(
        idempotency_key=key,
        request_hash=fingerprint or data.fingerprint(),
        tracking_token=secrets.token_urlsafe(24),
        customer_name=data.customer_name,
        customer_email=data.customer_email,
        card_brand=data.card_brand,
        card_last4=data.card_last4,
        total=data.computed_total(),
        status=rules.PENDING,
        reservation_id=data.reservation_id,
        created_at=now,
        updated_at=now,
        lines=[
            OrderLine(
                album_id=line.album_id,
                title=line.title,
                artist=line.artist,
                unit_price=line.unit_price,
                quantity=line.quantity,
            )
            for line in data.items
        ],
    )


_ORDERS = cast(Table, Order.__table__)
_ORDER_COLUMNS = [column.key for column in _ORDERS.columns if column.key != "id"]
# PREBUILT: built once of the tables' columns and run as Core on the transaction's connection, instead of the ORM's
# unit of work flushing the order and its lines (most of the order service's own time in a purchase, #16).
WRITE_ORDER = insert(_ORDERS)
WRITE_LINES = insert(cast(Table, OrderLine.__table__))


def _write(connection: Connection, order: Order) -> None:
    """Insert a new order and its lines (the order gets its id); IntegrityError when its key made an order already."""
    made = connection.execute(WRITE_ORDER, {name: getattr(order, name) for name in _ORDER_COLUMNS}).inserted_primary_key
    assert made is not None
    order.id = made[0]
    connection.execute(
        WRITE_LINES,
        [
            {
                "order_id": order.id,
                "album_id": line.album_id,
                "title": line.title,
                "artist": line.artist,
                "unit_price": line.unit_price,
                "quantity": line.quantity,
            }
            for line in order.lines
        ],
    )


def place_order(
    database: Database, *, key: str, data: OrderIn, caller_gave_up: Callable[[], bool] = _never_gives_up
) -> tuple[Order, bool]:
    """The order for this idempotency key, made now unless it exists; True when made now.

    An order that exists is answered whenever asked. A new one is not made once `caller_gave_up()`:
    checked on arrival and again just before the commit (CallerGaveUp, nothing stored), so a caller
    that stopped waiting is not left with an order it was never told about.

    A new key is the common case, so the order is written first and looked up by its key only when the key is
    known (the insert then fails on the key's unique index): one statement less for each order.
    """
    fingerprint = data.fingerprint()
    if caller_gave_up():
        existing = _by_key(database.session, key)
        if existing is None:
            raise CallerGaveUp(key)
        return _replay(existing, fingerprint), False
    order = new_order(data, key=key, fingerprint=fingerprint)
    try:
        with database.transaction() as session:
            _write(session.connection(), order)
            if caller_gave_up():
                raise CallerGaveUp(key)
    except IntegrityError:
        # The key made an order already (a repeat, or another request with it committed first): answer with it.
        existing = _by_key(database.session, key)
        if existing is None:
            raise
        return _replay(existing, fingerprint), False
    log.info(
        "order %s created: total %s, card %s ending %s",
        order.order_number,
        money(order.total),
        order.card_brand,
        order.card_last4,
    )
    return order, True


def get_order(session: Session, order_id: int) -> Order:
    """The order with this id, or OrderNotFound."""
    order = session.get(Order, order_id) if 1 <= order_id <= MAX_ID else None
    if order is None:
        raise OrderNotFound(order_id)
    return order


def order_by_token(session: Session, token: str) -> Order | None:
    """The order a tracking token opens, if any."""
    # PostgreSQL refuses a NUL byte outright; no real token holds any control character.
    if not 20 <= len(token) <= 64 or has_control_characters(token):
        return None
    return session.scalars(select(Order).where(Order.tracking_token == token)).one_or_none()


def change_status(session: Session, order_id: int, target: str) -> Order:
    """Move an order to `target` if the rules allow it; asking for its current status changes nothing.

    Cancelling records, in the same transaction, that the order's reserved stock must go back to the store.
    """
    order = get_order(session, order_id)
    if order.status == target:
        return order
    rules.check_transition(order.status, target)
    # Only move from the status we read, so two admins cannot both win a race.
    moved = session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status == order.status)
        .values(status=target, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(order)
        raise rules.TransitionRefused(order.status, target)
    session.refresh(order)
    if target == rules.CANCELLED:
        outbox.record(session, order)
    return order


@dataclass(frozen=True)
class OrderFilter:
    """What an order list is narrowed to."""

    status: str = ""
    customer_email: str = ""
    email_contains: str = ""
    idempotency_key: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The filter as SQL conditions."""
        found: list[ColumnElement[bool]] = []
        if self.status:
            found.append(Order.status == self.status)
        if self.customer_email:
            found.append(Order.customer_email == self.customer_email.strip().lower())
        if self.idempotency_key:
            found.append(Order.idempotency_key == self.idempotency_key)
        if self.email_contains:
            found.append(Order.customer_email.contains(self.email_contains.strip().lower(), autoescape=True))
        if self.date_from:
            found.append(Order.created_at >= start_of_day(self.date_from))
        if self.date_to and self.date_to < date.max:  # up to the last day there is: no upper bound
            found.append(Order.created_at < start_of_day(self.date_to + timedelta(days=1)))
        return found


def start_of_day(day: date) -> datetime:
    """Midnight UTC at the start of `day`."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def search_orders(session: Session, where: OrderFilter, *, page: int = 1, per_page: int = 20) -> Page[Order]:
    """One page of orders matching a filter, newest first."""
    conditions = where.conditions()
    total = session.scalar(select(func.count()).select_from(Order).where(*conditions)) or 0
    items = session.scalars(
        select(Order).where(*conditions).order_by(Order.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(items=list(items), total=total, page=page, per_page=per_page)
