"""The cart's two downstreams: the store (albums, stock) and the order service (orders).

JSON from either becomes a small typed object here, before a view or template sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from musicstore.common.http import DownstreamError, DownstreamRejected, ServiceClient


@dataclass(frozen=True)
class Album:
    """An album as the store sells it now: its price and stock are the store's."""

    id: int
    title: str
    artist: str
    price: Decimal
    stock: int
    cover_url: str | None

    @classmethod
    def from_json(cls, data: Any) -> Album:
        """An album from the store's JSON; a malformed answer is a DownstreamError."""
        try:
            return cls(
                id=int(data["id"]),
                title=str(data["title"]),
                artist=str(data["artist"]),
                price=Decimal(str(data["price"])),
                stock=int(data["stock"]),
                cover_url=data.get("cover_url") or None,
            )
        except (KeyError, TypeError, ValueError, InvalidOperation):
            raise DownstreamError("store", "malformed album in the store's answer") from None


@dataclass(frozen=True)
class Shortage:
    """A line the store could not reserve."""

    album_id: int
    requested: int
    available: int


class StockUnavailable(Exception):
    """The store refused a reservation: some lines exceed the stock (nothing was reserved)."""

    def __init__(self, shortages: list[Shortage]) -> None:
        super().__init__("not enough stock")
        self.shortages = shortages


class TotalChanged(Exception):
    """The store refused a reservation: its albums cost another total than the one the shopper was shown."""

    def __init__(self, total: Decimal) -> None:
        super().__init__(f"the total is now {total}")
        self.total = total


def _refusal(exc: DownstreamRejected) -> Exception:
    """What a refused reservation means: a shortage, a changed total, or else the store's own error."""
    body = exc.body if isinstance(exc.body, dict) else {}
    try:
        if exc.status == 409 and isinstance(body.get("unavailable"), list):
            return StockUnavailable(
                [Shortage(int(s["album_id"]), int(s["requested"]), int(s["available"])) for s in body["unavailable"]]
            )
        if exc.status == 409 and body.get("total") is not None:
            return TotalChanged(Decimal(str(body["total"])))
    except (KeyError, TypeError, ValueError, InvalidOperation):
        return DownstreamError("store", "malformed refusal in the store's answer")
    return exc  # e.g. a 409 for a reservation id released before


@dataclass(frozen=True)
class PlacedOrder:
    """The order the order service made, and the copies of each album it holds."""

    id: int
    order_number: str
    total: Decimal
    tracking_url: str | None
    quantities: dict[int, int]

    @classmethod
    def from_json(cls, data: Any) -> PlacedOrder:
        """An order from the order service's JSON; a malformed answer is a DownstreamError."""
        try:
            quantities: dict[int, int] = {}
            for line in data["items"]:
                quantities[int(line["album_id"])] = quantities.get(int(line["album_id"]), 0) + int(line["quantity"])
            return cls(
                id=int(data["id"]),
                order_number=str(data["order_number"]),
                total=Decimal(str(data["total"])),
                tracking_url=data.get("tracking_url") or None,
                quantities=quantities,
            )
        except (KeyError, TypeError, ValueError, InvalidOperation):
            raise DownstreamError("orders", "malformed order in the order service's answer") from None


# The catalog is public (GET /api/album*): the cart reads it without its token, so the store may answer from its
# catalog cache, which never serves a price or an album after a change's commit; only stock may be up to
# CATALOG_CACHE_SECONDS old there, and the reservation, which does carry the token, decides.
PUBLIC_READ: dict[str, str | None] = {"Authorization": None}  # a header set to None is dropped from the client's


class StoreClient(ServiceClient):
    """The store's public album API and its internal stock API."""

    service = "store"

    def get_album(self, album_id: int) -> Album | None:
        """One album, or None when the store does not sell it."""
        try:
            return Album.from_json(self.get(f"/api/album/{album_id}", headers=PUBLIC_READ))
        except DownstreamRejected as exc:
            if exc.status == 404:
                return None
            raise

    def get_albums(self, album_ids: list[int]) -> list[Album]:
        """The albums with these ids (at most 100) in one call; those the store does not sell are left out."""
        ids = ",".join(str(album_id) for album_id in album_ids)
        answer = self.get("/api/albums", params={"ids": ids}, headers=PUBLIC_READ)
        items = answer.get("items") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise DownstreamError("store", "malformed album list in the store's answer")
        return [Album.from_json(item) for item in items]

    def reserve(
        self, reservation_id: str, lines: list[tuple[int, int]], expected_total: Decimal | None = None
    ) -> list[Album]:
        """Hold stock for every line, or raise StockUnavailable (idempotent by reservation id); the albums as the
        store sells them now. With `expected_total`, albums that cost another total raise TotalChanged."""
        body: dict[str, Any] = {"reservation_id": reservation_id}
        body["items"] = [{"album_id": a, "quantity": q} for a, q in lines]
        if expected_total is not None:
            body["expected_total"] = f"{expected_total:.2f}"
        try:
            answer = self.post("/api/stock/reserve", body, idempotent=True)
        except DownstreamRejected as exc:
            raise _refusal(exc) from None
        albums = answer.get("albums") if isinstance(answer, dict) else None
        if not isinstance(albums, list):
            raise DownstreamError("store", "malformed reservation in the store's answer")
        return [Album.from_json(album) for album in albums]

    def release(self, reservation_id: str) -> None:
        """Give a reservation's stock back (idempotent by reservation id)."""
        self.post("/api/stock/release", {"reservation_id": reservation_id}, idempotent=True)


class OrdersClient(ServiceClient):
    """The order service's internal API."""

    service = "orders"
    callee_grace = 1.0  # the order service refuses to commit an order after the deadline it was sent

    def create_order(self, idempotency_key: str, order: dict[str, Any]) -> PlacedOrder:
        """Make the order once per idempotency key (the same key again gives the same order)."""
        answer = self.post("/api/orders", order, idempotent=True, headers={"Idempotency-Key": idempotency_key})
        return PlacedOrder.from_json(answer)

    def find_order(self, idempotency_key: str) -> PlacedOrder | None:
        """The order this idempotency key made, or None when it made none (so far)."""
        answer = self.get("/api/orders", params={"idempotency_key": idempotency_key, "per_page": 1})
        items = answer.get("items") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise DownstreamError("orders", "malformed order list in the order service's answer")
        return PlacedOrder.from_json(items[0]) if items else None
