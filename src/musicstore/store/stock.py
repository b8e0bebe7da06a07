"""Stock reservations: all lines or none, never below zero, once per reservation id."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from musicstore.store.models import Album, Reservation, ReservationLine

RESERVED, RELEASED = "reserved", "released"


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


class ReservationAlreadyReleased(Exception):
    """The reservation id was released before; it cannot reserve again."""


class ReservationConflict(Exception):
    """The reservation id was already used for other lines."""


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


def reserve(session: Session, reservation_id: str, items: list[tuple[int, int]]) -> Reservation:
    """Take stock for every line or for none; repeating a reservation id reserves nothing more."""
    reservation, made_now = _claim(session, reservation_id, RESERVED)
    lines = merge_lines(items)
    if not made_now:
        if reservation.status == RELEASED:
            raise ReservationAlreadyReleased(reservation_id)
        if [(line.album_id, line.quantity) for line in reservation.lines] != lines:
            raise ReservationConflict(reservation_id)
        return reservation
    short = []
    for album_id, quantity in lines:
        taken = session.execute(
            update(Album)
            .where(Album.id == album_id, Album.stock >= quantity)
            .values(stock=Album.stock - quantity)
            .returning(Album.id)
        ).first()
        if taken is None:
            short.append((album_id, quantity))
    if short:
        stock = dict(session.execute(select(Album.id, Album.stock).where(Album.id.in_([a for a, _ in short]))).all())
        raise StockUnavailable([Shortage(a, q, stock.get(a, 0)) for a, q in short])
    reservation.lines = [ReservationLine(album_id=a, quantity=q) for a, q in lines]
    return reservation


def release(session: Session, reservation_id: str) -> Reservation:
    """Give a reservation's stock back once; an unknown id is remembered as released."""
    reservation, _ = _claim(session, reservation_id, RELEASED)
    if reservation.status == RESERVED:
        for line in reservation.lines:
            session.execute(update(Album).where(Album.id == line.album_id).values(stock=Album.stock + line.quantity))
        reservation.status = RELEASED
    return reservation


def reservation_json(reservation: Reservation) -> dict[str, object]:
    """A reservation as the API answers it."""
    return {
        "reservation_id": reservation.id,
        "status": reservation.status,
        "items": [{"album_id": line.album_id, "quantity": line.quantity} for line in reservation.lines],
    }
