"""Fakes of the cart's two downstreams, with switches for their failures.

They keep the real services' rules where the cart depends on them: the store refuses to reserve
again under a released reservation id (409), and the order service checks the body with its own
schema (musicstore.orders.schemas.OrderIn; tests are not a service, so they may import it) and
refuses a key reused for another order (422). Drift between the cart and those rules fails here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from musicstore.cart.clients import Album, PlacedOrder, Shortage, StockUnavailable, TotalChanged
from musicstore.common.errors import describe_validation_error
from musicstore.common.http import DownstreamRejected, DownstreamUnavailable
from musicstore.orders.schemas import OrderIn


@dataclass
class FakeStore:
    """A store with albums and stock; reservations take stock, releases give it back."""

    albums: dict[int, Album] = field(default_factory=dict)
    reservations: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    released: set[str] = field(default_factory=set)
    down: bool = False
    release_down: bool = False
    batch_calls: int = 0
    reserve_calls: int = 0
    single_calls: int = 0

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
        self.single_calls += 1
        return self.albums.get(album_id)

    def get_albums(self, album_ids: list[int]) -> list[Album]:
        self._check()
        assert 1 <= len(album_ids) <= 100, "the store answers 1 to 100 ids"
        self.batch_calls += 1
        return [self.albums[album_id] for album_id in album_ids if album_id in self.albums]

    def reserve(
        self, reservation_id: str, lines: list[tuple[int, int]], expected_total: Decimal | None = None
    ) -> list[Album]:
        self._check()
        self.reserve_calls += 1
        if reservation_id in self.released:
            message = "this reservation was released and cannot be used again"
            raise DownstreamRejected("store", message, 409, {"error": message})
        made_now = reservation_id not in self.reservations
        if made_now:
            short = [Shortage(a, q, self.albums[a].stock if a in self.albums else 0) for a, q in lines
                     if a not in self.albums or self.stock(a) < q]  # fmt: skip
            if short:
                raise StockUnavailable(short)
        # The total is checked on a repeat too (whose reservation then stays held); a new one is not made.
        total = sum((self.albums[a].price * q for a, q in lines if a in self.albums), Decimal("0"))
        if expected_total is not None and total != expected_total:
            raise TotalChanged(total)
        if made_now:
            for album_id, quantity in lines:
                self.albums[album_id] = replace(self.albums[album_id], stock=self.stock(album_id) - quantity)
            self.reservations[reservation_id] = lines
        return [self.albums[a] for a, _ in lines if a in self.albums]

    def release(self, reservation_id: str) -> None:
        self._check()
        if self.release_down:
            raise DownstreamUnavailable("store", "no answer within 3s")
        if reservation_id in self.released:
            return
        self.released.add(reservation_id)
        for album_id, quantity in self.reservations.get(reservation_id, []):
            self.albums[album_id] = replace(self.albums[album_id], stock=self.stock(album_id) + quantity)

    def ping(self) -> bool:
        return not self.down


@dataclass
class FakeOrders:
    """An order service that makes one order per idempotency key, checking bodies as the real one does.

    Its failures: `down` (nothing reaches it: certainly no order), `silent` (calls reach it and time out
    without an answer; with `works_when_silent` it makes the order all the same), `lookups_down`.
    """

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    down: bool = False
    silent: bool = False
    works_when_silent: bool = False
    lookups_down: bool = False
    calls: int = 0
    lookups: int = 0

    def create_order(self, idempotency_key: str, order: dict[str, Any]) -> PlacedOrder:
        self.calls += 1
        if self.down:
            raise DownstreamUnavailable("orders", "unreachable (ConnectionError)", sent=False)
        if self.silent:
            if self.works_when_silent:
                self._make(idempotency_key, order)
            raise DownstreamUnavailable("orders", "no answer within 3s")
        return self._make(idempotency_key, order)

    def find_order(self, idempotency_key: str) -> PlacedOrder | None:
        self.lookups += 1
        if self.down or self.silent or self.lookups_down:
            raise DownstreamUnavailable("orders", "no answer within 2s")
        known = self.orders.get(idempotency_key)
        return None if known is None else self._make(idempotency_key, known)

    def _make(self, idempotency_key: str, order: dict[str, Any]) -> PlacedOrder:
        try:
            checked = OrderIn.model_validate(order)
        except ValidationError as exc:
            message = describe_validation_error(exc)
            raise DownstreamRejected("orders", message, 422, {"error": message}) from None
        known = self.orders.setdefault(idempotency_key, order)
        if OrderIn.model_validate(known).fingerprint() != checked.fingerprint():
            message = "this Idempotency-Key was already used for a different order; use a new key for a new order"
            raise DownstreamRejected("orders", message, 422, {"error": message})
        number = list(self.orders).index(idempotency_key) + 1
        return PlacedOrder(
            id=number,
            order_number=f"ORD-{number:05d}",
            total=checked.computed_total(),
            tracking_url=f"http://orders.test/track/ORD-{number:05d}",
            quantities={line.album_id: line.quantity for line in checked.items},
        )

    def ping(self) -> bool:
        return not (self.down or self.silent)


@dataclass
class HeldOrders(FakeOrders):
    """An order service that holds each order call open until the test lets it go: overlap without timing."""

    entered: threading.Event = field(default_factory=threading.Event)
    let_go: threading.Event = field(default_factory=threading.Event)

    def create_order(self, idempotency_key: str, order: dict[str, Any]) -> PlacedOrder:
        self.entered.set()
        assert self.let_go.wait(10), "the test never let the order call go"
        return super().create_order(idempotency_key, order)
