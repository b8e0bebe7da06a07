"""Request bodies of the store's API, validated with pydantic."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator

from musicstore.common.db import MAX_ID
from musicstore.common.keys import ReservationId
from musicstore.common.text import NoControl, ShortText
from musicstore.store.models import Album

Genre = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), NoControl]
MAX_PRICE = Decimal("10000")
MAX_STOCK = 1_000_000  # the most copies of one album the catalog holds, and the largest single restock


class AlbumIn(BaseModel):
    """A new album."""

    model_config = ConfigDict(extra="forbid")

    title: ShortText
    artist: ShortText
    genre: Genre
    year: int = Field(ge=1900)
    price: Decimal = Field(ge=0, lt=MAX_PRICE, max_digits=7, decimal_places=2, allow_inf_nan=False)
    stock: int = Field(default=0, ge=0, le=MAX_STOCK)

    @field_validator("year")
    @classmethod
    def _not_in_the_future(cls, year: int) -> int:
        if year > date.today().year + 1:
            raise ValueError("year is in the future")
        return year

    @field_validator("price", "year", "stock", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number, not true/false")
        return value


class StockLine(BaseModel):
    """One album and how many copies."""

    model_config = ConfigDict(extra="forbid")

    album_id: StrictInt = Field(ge=1, le=MAX_ID)
    quantity: StrictInt = Field(ge=1, le=1000)


class ReserveIn(BaseModel):
    """A request to hold stock for one checkout."""

    model_config = ConfigDict(extra="forbid")

    reservation_id: ReservationId
    items: list[StockLine] = Field(min_length=1, max_length=100)
    # The total the shopper was shown: the checkout prices the cart with its reservation, in one call.
    expected_total: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2, allow_inf_nan=False)

    @field_validator("expected_total", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be an amount, not true/false")
        return value


class ReleaseIn(BaseModel):
    """A request to give a reservation's stock back: checkout failed."""

    model_config = ConfigDict(extra="forbid")

    reservation_id: ReservationId


class ReturnIn(BaseModel):
    """A request to give a cancelled order's reserved stock back."""

    model_config = ConfigDict(extra="forbid")

    reservation_id: ReservationId


class StockChangeIn(BaseModel):
    """The admin's restock: copies to add (or, negative, to take away)."""

    model_config = ConfigDict(extra="forbid")

    delta: StrictInt = Field(ge=-MAX_STOCK, le=MAX_STOCK)


def album_json(album: Album, public_url: str) -> dict[str, Any]:
    """An album as the API answers it."""
    return {
        "id": album.id,
        "title": album.title,
        "artist": album.artist,
        "genre": album.genre,
        "year": album.year,
        "price": f"{album.price:.2f}",
        "stock": album.stock,
        "cover_url": f"{public_url}/covers/{album.cover}" if album.cover else None,
    }
