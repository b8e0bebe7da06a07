"""Stock: reservations (all lines or none, once per reservation id) and restocks, never below zero.

A reservation ends once: `released` (its checkout failed) or `returned` (its order was cancelled);
either way its stock goes back exactly once, and an ended id never reserves again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Integer, Select, String, Table, bindparam, exists, func, insert, literal, select, true, update
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
_LINES = cast(Table, ReservationLine.__table__)


def _taking(*, first: bool) -> Select[Any]:
    """One line's statement: take its copies if the stock has them, answering the album, and record the line in the
    same statement. The first line's also records the reservation, and takes nothing when the id is known (a repeat,
    or a concurrent request with it that committed first: the insert waits for it); its `made_now` says which.

    PREBUILT: built once of the tables' columns and run as Core on the transaction's connection. The ORM's statements,
    built, keyed and compiled per call, with each album row loaded into the session, were most of the store's own
    time in a reservation, and a statement per line and one for the lines were a round trip each (#16).
    """
    wanted, album = bindparam("wanted", type_=Integer), bindparam("album", type_=Integer)
    reservation = bindparam("reservation", type_=String)
    conditions = [_ALBUMS.c.id == album, _ALBUMS.c.stock >= wanted]
    made = None
    if first:
        made = (
            pg_insert(_RESERVATIONS)
            .values(id=reservation, status=RESERVED, created_at=bindparam("now"), updated_at=bindparam("now"))
            .on_conflict_do_nothing(index_elements=[_RESERVATIONS.c.id])
            .returning(_RESERVATIONS.c.id)
            .cte("made")
        )
        conditions.append(exists(select(made.c.id)))
    taken = (
        update(_ALBUMS)
        .where(*conditions)
        .values(stock=_ALBUMS.c.stock - wanted, updated_at=bindparam("now"))
        .returning(*_ALBUMS.c)
        .cte("taken")
    )
    line = (
        insert(_LINES)
        .from_select(["reservation_id", "album_id", "quantity"], select(reservation, taken.c.id, wanted))
        .cte("line")
    )
    made_now = select(func.count()).select_from(made).scalar_subquery() if made is not None else literal(1)
    one = select(literal(1).label("one")).subquery("one")  # a row even when nothing was taken
    return select(made_now.label("made_now"), *taken.c).select_from(one.outerjoin(taken, true())).add_cte(line)


FIRST_LINE, NEXT_LINE = _taking(first=True), _taking(first=False)


def reserve(
    session: Session, reservation_id: str, items: list[tuple[int, int]], expected_total: Decimal | None = None
) -> Held:
    """Take stock for every line or for none; repeating a reservation id reserves nothing more. With
    `expected_total` (what the shopper was shown), albums that now cost another total raise TotalChanged.

    A new id costs one statement per line, the first recording the reservation too: the checkout waits on each round
    trip, and the ORM's way (a locking read, a savepoint around the insert, a read of the new reservation's empty
    lines) took five statements for one line.
    """
    lines = merge_lines(items)
    connection = session.connection()
    now = utcnow()
    albums, short = [], []
    for number, (album_id, quantity) in enumerate(lines):
        row = connection.execute(
            NEXT_LINE if number else FIRST_LINE,
            {
                "reservation": reservation_id,
                "line_of": reservation_id,
                "album": album_id,
                "wanted": quantity,
                "now": now,
            },
        ).one()
        if not row.made_now:  # a repeat, or a concurrent request with this id that committed first
            return _priced(_repeated(session, reservation_id, lines), lines, expected_total)
        if row.id is None:
            short.append((album_id, quantity))
        else:
            albums.append(Album(**{column.key: getattr(row, column.key) for column in _ALBUMS.columns}))
    if short:  # the transaction rolls back: the reservation, the copies and the lines taken with it
        found = connection.execute(select(Album.id, Album.stock).where(Album.id.in_([a for a, _ in short])))
        stock = {album_id: available for album_id, available in found}
        raise StockUnavailable([Shortage(a, q, stock.get(a, 0)) for a, q in short])
    # Not added to the session: the rows are written; this is the answer's shape.
    reservation = Reservation(id=reservation_id, status=RESERVED, lines=[ReservationLine(album_id=a, quantity=q)
                                                                         for a, q in lines])  # fmt: skip
    return _priced(Held(reservation, albums), lines, expected_total)


def _priced(held: Held, lines: list[tuple[int, int]], expected_total: Decimal | None) -> Held:
    """The reservation, unless its albums cost another total than the one the shopper was shown (TotalChanged)."""
    quantities = dict(lines)
    total = sum((album.price * quantities[album.id] for album in held.albums), Decimal("0"))
    if expected_total is not None and total != expected_total:
        raise TotalChanged(total)  # a new reservation rolls back with the transaction; a repeated one stays held
    return held


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
