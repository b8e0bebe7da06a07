"""Fakes of the cart's two downstreams, with switches for their failures."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from musicstore.cart.clients import Album, PlacedOrder, Shortage, StockUnavailable
from musicstore.common.http import DownstreamUnavailable


@dataclass
class FakeStore:
    """A store with albums and stock; reservations take stock, releases give it back."""

    albums: dict[int, Album] = field(default_factory=dict)
    reservations: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    released: set[str] = field(default_factory=set)
    down: bool = False

    def add(self, album_id: int, *, title: str = "", price: str = "10.00", stock: int = 5) -> Album:
        """Put an album in the fake catalog."""
        album = Album(
            id=album_id,
            title=title or f"Album {album_id}",
            artist=f"Artist {album_id}",
            price=Decimal(price),
            stock=stock,
            cover_url=f"http://store.test/covers/{album_id}.png",
        )
        self.albums[album_id] = album
        return album

    def stock(self, album_id: int) -> int:
        """The album's stock now."""
        return self.albums[album_id].stock

    def _check(self) -> None:
        if self.down:
            raise DownstreamUnavailable("store", "no answer within 3s")

    def get_album(self, album_id: int) -> Album | None:
        self._check()
        return self.albums.get(album_id)

    def reserve(self, reservation_id: str, lines: list[tuple[int, int]]) -> None:
        self._check()
        if reservation_id in self.reservations:
            return
        short = [Shortage(a, q, self.stock(a)) for a, q in lines if self.stock(a) < q]
        if short:
            raise StockUnavailable(short)
        for album_id, quantity in lines:
            self.albums[album_id] = replace(self.albums[album_id], stock=self.stock(album_id) - quantity)
        self.reservations[reservation_id] = lines

    def release(self, reservation_id: str) -> None:
        self._check()
        if reservation_id in self.released:
            return
        self.released.add(reservation_id)
        for album_id, quantity in self.reservations.get(reservation_id, []):
            self.albums[album_id] = replace(self.albums[album_id], stock=self.stock(album_id) + quantity)

    def ping(self) -> bool:
        return not self.down


@dataclass
class FakeOrders:
    """An order service that makes one order per idempotency key."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    down: bool = False

    def create_order(self, idempotency_key: str, order: dict[str, Any]) -> PlacedOrder:
        if self.down:
            raise DownstreamUnavailable("orders", "no answer within 3s")
        self.orders.setdefault(idempotency_key, order)
        number = list(self.orders).index(idempotency_key) + 1
        total = sum(Decimal(i["unit_price"]) * i["quantity"] for i in self.orders[idempotency_key]["items"])
        return PlacedOrder(
            id=number,
            order_number=f"ORD-{number:05d}",
            total=total,
            tracking_url=f"http://orders.test/track/ORD-{number:05d}",
        )

    def ping(self) -> bool:
        return not self.down
