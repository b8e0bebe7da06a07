"""A cart priced by the store: titles, prices and stock come from the store, never the client."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from musicstore.cart.clients import Album, StoreClient
from musicstore.common.money import money

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PricedLine:
    """One cart line with the store's current details."""

    album: Album
    quantity: int

    @property
    def line_total(self) -> Decimal:
        """Unit price times quantity."""
        return self.album.price * self.quantity

    def as_json(self) -> dict[str, Any]:
        """The line as GET /api/cart answers it."""
        return {
            "album_id": self.album.id,
            "title": self.album.title,
            "artist": self.album.artist,
            "unit_price": money(self.album.price),
            "quantity": self.quantity,
            "line_total": money(self.line_total),
            "cover_url": self.album.cover_url,
            "stock": self.album.stock,
        }


@dataclass(frozen=True)
class PricedCart:
    """The cart's lines with prices, and the albums the store no longer sells."""

    lines: list[PricedLine]
    gone: list[int]

    @property
    def total(self) -> Decimal:
        """The sum of the line totals."""
        return sum((line.line_total for line in self.lines), Decimal("0"))

    @property
    def count(self) -> int:
        """How many copies the cart holds in all."""
        return sum(line.quantity for line in self.lines)

    def quantities(self) -> dict[int, int]:
        """Quantities by album id of the lines that can be bought."""
        return {line.album.id: line.quantity for line in self.lines}

    def as_json(self) -> dict[str, Any]:
        """The cart as GET /api/cart answers it."""
        return {"items": [line.as_json() for line in self.lines], "total": money(self.total), "count": self.count}


BATCH = 100  # the most albums the store answers in one call


def albums_of(ids: list[int], store: StoreClient) -> dict[int, Album]:
    """The store's albums with these ids, by id, in one call per hundred (unknown ones left out; a DownstreamError
    when the store cannot answer)."""
    return {
        album.id: album for start in range(0, len(ids), BATCH) for album in store.get_albums(ids[start : start + BATCH])
    }


def price_lines(lines: dict[int, int], albums: dict[int, Album]) -> PricedCart:
    """The lines priced with albums the store gave; a line whose album it did not give is gone from the catalog."""
    priced, gone = [], []
    for album_id, quantity in lines.items():
        album = albums.get(album_id)
        if album is None:
            log.info("album %d is no longer sold; leaving it out of the cart", album_id)
            gone.append(album_id)
        else:
            priced.append(PricedLine(album, quantity))
    return PricedCart(priced, gone)


def price_cart(lines: dict[int, int], store: StoreClient) -> PricedCart:
    """Ask the store for the lines' albums and price them (a DownstreamError when it cannot answer)."""
    return price_lines(lines, albums_of(list(lines), store))
