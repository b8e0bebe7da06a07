"""Stock: reservations (all lines or none, once per reservation id) and restocks, never below zero.

A reservation ends once: `released` (its checkout failed) or `returned` (its order was cancelled);
either way its stock goes back exactly once, and an ended id never reserves again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from musicstore.common.db import MAX_ID, utcnow
from musicstore.store.models import Album, Reservation, ReservationLine
from musicstore.store.schemas import MAX_STOCK

RESERVED, RELEASED, RETURNED = "reserved", "released", "returned"


@dataclass(frozen=True)
class Shortage:
    """One line that the stock cannot cover."""

    album_id: int
    requested: int
    available: int


class StockUnavailable(Exception):
    """Some lines exceed the stock; nothing was reserved."""

    def __init__(self, shortages: list[Shortage]) -> None:
        super().__init__("not enough stock")
        self.shortages = shortages


class ReservationEnded(Exception):
    """The reservation was released or returned before: its stock went back already."""

    def __init__(self, reservation_id: str, status: str) -> None:
        super().__init__(f"reservation {reservation_id} was {status}")
        self.status = status


class TotalChanged(Exception):
    """The albums to reserve cost another total than the one the shopper was shown."""

    def __init__(self, total: Decimal) -> None:
        super().__init__(f"the total is now {total:.2f}")
        self.total = total


class UnknownReservation(Exception):
    """No reservation has this id."""


class ReservationConflict(Exception):
    """The reservation id was already used for other lines."""


class UnknownAlbum(Exception):
    """No album has this id (it may have been deleted meanwhile)."""


class StockOutOfRange(Exception):
    """The change would take the stock below zero or above the most the catalog holds; nothing changed."""

    def __init__(self, available: int, delta: int) -> None:
        limit = "below zero" if delta < 0 else f"above {MAX_STOCK}"
        super().__init__(f"the stock is {available}: a change of {delta:+d} would take it {limit}")
        self.available = available


def merge_lines(items: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Add up the quantities of repeated albums; order by album id so locks are taken in one order."""
    totals: Counter[int] = Counter()
    for album_id, quantity in items:
        totals[album_id] += quantity
    return sorted(totals.items())


def _claim(session: Session, reservation_id: str, status: str) -> tuple[Reservation, bool]:
    """The reservation with this id, made now with `status` unless it exists; True when made now."""
    existing = session.get(Reservation, reservation_id, with_for_update=True)
    if existing is not None:
        return existing, False
    try:
        with session.begin_nested():
            reservation = Reservation(id=reservation_id, status=status)
            session.add(reservation)
        return reservation, True
    except IntegrityError:
        # Another request with the same id committed first: use its outcome.
        existing = session.get(Reservation, reservation_id, with_for_update=True, populate_existing=True)
        assert existing is not None
        return existing, False


@dataclass(frozen=True)
class Held:
    """A reservation holding its stock, with its albums as the store sells them now: what the order is priced with."""

    reservation: Reservation
    albums: list[Album]


_ALBUMS = cast(Table, Album.__table__)
_RESERVATIONS = cast(Table, Reservation.__table__)
# PREBUILT: built once of the tables' columns and run as Core on the transaction's connection. The ORM's statements,
# built, keyed and compiled per call, and the album objects made of each row, were most of the store's own time in a
# reservation (#16).
RECORD = (
    pg_insert(_RESERVATIONS)
    .values(id=bindparam("reservation"), status=RESERVED, created_at=bindparam("now"), updated_at=bindparam("now"))
    .on_conflict_do_nothing(index_elements=[_RESERVATIONS.c.id])
    .returning(_RESERVATIONS.c.id)
)
TAKE = (
    update(_ALBUMS)
    .where(_ALBUMS.c.id == bindparam("album"), _ALBUMS.c.stock >= bindparam("wanted"))
    .values(stock=_ALBUMS.c.stock - bindparam("wanted"))
    .returning(*_ALBUMS.c)
)
WRITE_LINES = insert(cast(Table, ReservationLine.__table__))


def reserve(
    session: Session, reservation_id: str, items: list[tuple[int, int]], expected_total: Decimal | None = None
) -> Held:
    """Take stock for every line or for none; repeating a reservation id reserves nothing more. With
    `expected_total` (what the shopper was shown), albums that now cost another total raise TotalChanged.

    A new id costs one statement to record it, one per line to take the stock (answering the album) and one for
    the lines: the checkout waits on this call, and the ORM's way (a locking read, a savepoint around the insert,
    a read of the new reservation's empty lines) took twice the round trips.
    """
    lines = merge_lines(items)
    now = utcnow()
    connection = session.connection()
    made_now = connection.execute(RECORD, {"reservation": reservation_id, "now": now}).first()
    # None: a repeat, or a concurrent request with this id that committed first (the insert waited for it)
    held = _take(connection, reservation_id, lines) if made_now else _repeated(session, reservation_id, lines)
    quantities = dict(lines)
    total = sum((album.price * quantities[album.id] for album in held.albums), Decimal("0"))
    if expected_total is not None and total != expected_total:
        raise TotalChanged(total)  # a new reservation rolls back with the transaction; a repeated one stays held
    return held


def _take(connection: Connection, reservation_id: str, lines: list[tuple[int, int]]) -> Held:
    """Take each line's copies and record the lines, or raise StockUnavailable (the transaction then rolls back,
    the new reservation's row with it)."""
    albums, short = [], []
    for album_id, quantity in lines:
        row = connection.execute(TAKE, {"album": album_id, "wanted": quantity}).first()
        if row is None:
            short.append((album_id, quantity))
        else:
            albums.append(Album(**row._mapping))  # not added to a session: the answer's shape
    if short:
        found = connection.execute(select(Album.id, Album.stock).where(Album.id.in_([a for a, _ in short])))
        stock = {album_id: available for album_id, available in found}
        raise StockUnavailable([Shortage(a, q, stock.get(a, 0)) for a, q in short])
    connection.execute(WRITE_LINES, [{"reservation_id": reservation_id, "album_id": a, "quantity": q}
                                     for a, q in lines])  # fmt: skip
    # Not added to the session: the rows are written; this is the answer's shape.
    reservation = Reservation(id=reservation_id, status=RESERVED, lines=[ReservationLine(album_id=a, quantity=q)
                                                                         for a, q in lines])  # fmt: skip
    return Held(reservation, albums)


def _repeated(session: Session, reservation_id: str, lines: list[tuple[int, int]]) -> Held:
    """The reservation an earlier request made with this id, if it holds the same lines and still holds them."""
    reservation = session.get(Reservation, reservation_id, with_for_update=True)
    assert reservation is not None  # reservations are never deleted
    if reservation.status != RESERVED:
        raise ReservationEnded(reservation_id, reservation.status)
    if [(line.album_id, line.quantity) for line in reservation.lines] != lines:
        raise ReservationConflict(reservation_id)
    albums = session.scalars(select(Album).where(Album.id.in_([a for a, _ in lines])).order_by(Album.id)).all()
    return Held(reservation, list(albums))


def release(session: Session, reservation_id: str) -> Reservation:
    """Give a failed checkout's stock back once; an unknown id is remembered as released."""
    reservation, _ = _claim(session, reservation_id, RELEASED)
    if reservation.status == RETURNED:
        raise ReservationEnded(reservation_id, RETURNED)
    if reservation.status == RESERVED:
        _end(session, reservation, RELEASED)
    return reservation


def return_stock(session: Session, reservation_id: str) -> tuple[Reservation, bool]:
    """Give a cancelled order's stock back once; True when it went back now (not on a repeat)."""
    reservation = session.get(Reservation, reservation_id, with_for_update=True)
    if reservation is None:
        raise UnknownReservation(reservation_id)
    if reservation.status == RELEASED:
        raise ReservationEnded(reservation_id, RELEASED)
    if reservation.status == RETURNED:
        return reservation, False
    _end(session, reservation, RETURNED)
    return reservation, True


def _end(session: Session, reservation: Reservation, status: str) -> None:
    """Put a held reservation's copies back in stock (relative, in one UPDATE per line) and close it."""
    for line in reservation.lines:
        session.execute(update(Album).where(Album.id == line.album_id).values(stock=Album.stock + line.quantity))
    reservation.status = status


def restock(session: Session, album_id: int, delta: int) -> Album:
    """Change an album's stock by `delta` in one UPDATE, so concurrent reservations and restocks all count."""
    if not 1 <= album_id <= MAX_ID:
        raise UnknownAlbum(album_id)
    # The bound is on the current stock, worked out here, so `stock + delta` never overflows the column.
    in_range = Album.stock <= MAX_STOCK - delta if delta > 0 else Album.stock >= -delta
    album = session.scalars(
        update(Album).where(Album.id == album_id, in_range).values(stock=Album.stock + delta).returning(Album),
        execution_options={"synchronize_session": False, "populate_existing": True},
    ).one_or_none()
    if album is None:
        available = session.scalar(select(Album.stock).where(Album.id == album_id))
        if available is None:
            raise UnknownAlbum(album_id)
        raise StockOutOfRange(available, delta)
    return album


def reservation_json(reservation: Reservation) -> dict[str, object]:
    """A reservation as the API answers it."""
    return {
        "reservation_id": reservation.id,
        "status": reservation.status,
        "items": [{"album_id": line.album_id, "quantity": line.quantity} for line in reservation.lines],
    }
