"""The store's OpenAPI document: its JSON API (DESIGN.md, "Store"), from the models the views validate with."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from musicstore.common.db import MAX_ID
from musicstore.common.openapi import (
    ADMIN,
    EVERY_SERVICE,
    INTERNAL,
    JSON,
    PAGE,
    PER_PAGE,
    TOO_LONG,
    Answer,
    Body,
    ErrorOut,
    Money,
    Operation,
    PageOut,
    Param,
    build_document,
    errors,
    rate_limited,
)
from musicstore.store.schemas import AlbumIn, ReleaseIn, ReserveIn, ReturnIn, StockChangeIn


class AlbumOut(BaseModel):
    """An album as the API answers it."""

    model_config = ConfigDict(extra="forbid", title="Album")

    id: int = Field(ge=1)
    title: str
    artist: str
    genre: str
    year: int
    price: Money
    stock: int = Field(ge=0)
    cover_url: str | None = Field(description="The cover image (on the store's public URL)")


class AlbumPage(PageOut[AlbumOut]):
    """A page of albums, ordered by title."""


class GenreCount(BaseModel):
    """How many albums one genre has."""

    model_config = ConfigDict(extra="forbid")

    genre: str
    albums: int = Field(ge=0)


class StatsOut(BaseModel):
    """Catalog statistics."""

    model_config = ConfigDict(extra="forbid", title="Stats")

    albums: int = Field(ge=0)
    artists: int = Field(ge=0)
    genres: int = Field(ge=0)
    average_price: Money
    inventory_value: Money
    units_in_stock: int = Field(ge=0)
    albums_per_genre: list[GenreCount]


class ReservedLine(BaseModel):
    """One line of a reservation."""

    model_config = ConfigDict(extra="forbid")

    album_id: int
    quantity: int


class ReservationOut(BaseModel):
    """A stock reservation and what became of it."""

    model_config = ConfigDict(extra="forbid", title="Reservation")

    reservation_id: str
    status: Literal["reserved", "released", "returned"]
    items: list[ReservedLine]
    albums: list[AlbumOut] | None = Field(
        default=None, description="A reservation's albums as sold now (its order's prices); only when reserving"
    )


class Shortage(BaseModel):
    """A line the stock cannot cover."""

    album_id: int
    requested: int
    available: int


class ShortageError(ErrorOut):
    """A reservation refused for lack of stock: nothing was reserved."""

    model_config = ConfigDict(extra="allow", title="ShortageError")

    unavailable: list[Shortage] | None = None
    total: Money | None = Field(default=None, description="The albums' total now, when it is not expected_total")


class StockError(ErrorOut):
    """A stock change refused: the stock it would leave is out of range."""

    model_config = ConfigDict(extra="allow", title="StockError")

    stock: int | None = Field(default=None, description="The stock now")


ALBUM_EXAMPLE = {
    "title": "Blue Train",
    "artist": "John Coltrane",
    "genre": "Jazz",
    "year": 1957,
    "price": "12.99",
    "stock": 10,
}
ALBUM_ID = Param("id", "path", {"type": "integer", "minimum": 1, "maximum": MAX_ID, "examples": [1]}, "The album's id")
NOT_THERE = {404: "No album with this id"}
DOWN = {503: "The database does not answer, or a fault was injected (storeApiFailure); try again"}
# Admin and internal APIs: wrong or no credentials, a write from another site's Origin, too many failed attempts.
GUARDED = {
    **errors({401: "Credentials missing or wrong", 403: "Refused: the request's Origin is not the shop's"}),
    **rate_limited("failed HTTP Basic attempts count against the login limit"),
}
BAD_BODY = {400: "The body is not a JSON object", 415: "The body is not sent as JSON",
            422: "A field breaks its rule (the message says which)"}  # fmt: skip

STOCK_OPERATIONS = (
    Operation(
        "POST",
        "/api/stock/reserve",
        "Hold stock for every line of a checkout, or for none",
        {
            200: Answer("Reserved (a repeat with the same id changes nothing)", ReservationOut),
            409: Answer(
                "Not enough stock for a line (nothing reserved), the albums' total is not expected_total (a new"
                " reservation is not made; a repeated one stays held until released), or the reservation already"
                " ended",
                ShortageError,
            ),
            **errors({**BAD_BODY, 422: "A field breaks its rule, or the id was used for other lines", **DOWN}),
            **GUARDED,
        },
        body=Body(ReserveIn, example={"reservation_id": "cart-3f2a9c", "items": [{"album_id": 1, "quantity": 1}]}),
        security=INTERNAL,
        tag="stock",
    ),
    Operation(
        "POST",
        "/api/stock/release",
        "Give a failed checkout's reservation back (idempotent)",
        {
            200: Answer("Released (or nothing was held under this id)", ReservationOut),
            **errors({**BAD_BODY, 409: "The reservation was returned (its order was cancelled)", **DOWN}),
            **GUARDED,
        },
        body=Body(ReleaseIn, example={"reservation_id": "cart-3f2a9c"}),
        security=INTERNAL,
        tag="stock",
    ),
    Operation(
        "POST",
        "/api/stock/return",
        "Give a cancelled order's stock back, once (idempotent)",
        {
            200: Answer("Returned (a repeat changes nothing)", ReservationOut),
            **errors({**BAD_BODY, 404: "No reservation with this id", 409: "The reservation was released", **DOWN}),
            **GUARDED,
        },
        body=Body(ReturnIn, example={"reservation_id": "cart-3f2a9c"}),
        security=INTERNAL,
        tag="stock",
    ),
)

CATALOG_OPERATIONS = (
    Operation(
        "GET",
        "/api/album/{id}",
        "One album",
        {200: Answer("The album", AlbumOut), **errors({**NOT_THERE, **DOWN})},
        params=(ALBUM_ID,),
    ),
    Operation(
        "GET",
        "/api/albums",
        "Albums by title or artist text and genre, a page at a time; or the albums of a list of ids",
        {
            200: Answer("A page of albums, ordered by title", AlbumPage),
            **errors({400: "A paging or filter parameter is wrong", **DOWN}),
            **TOO_LONG,
        },
        params=(
            Param("q", "query", {"type": "string", "maxLength": 200}, "Text in the title or the artist"),
            Param("genre", "query", {"type": "string", "maxLength": 50}, "Exactly this genre"),
            Param(
                "ids",
                "query",
                {"type": "string", "pattern": r"^[1-9][0-9]{0,8}(,[1-9][0-9]{0,8}){0,99}$", "examples": ["3,1,7"]},
                "Comma-separated album ids (at most 100): those albums in one call, unknown ids left out",
            ),
            PAGE,
            PER_PAGE,
        ),
    ),
    Operation("GET", "/api/stats", "Catalog statistics", {200: Answer("The figures", StatsOut), **errors(DOWN)}),
    Operation(
        "POST",
        "/api/albums",
        "Add an album (admin); without a cover upload a cover is generated",
        {
            201: Answer("The new album", AlbumOut),
            **errors(
                {
                    **BAD_BODY,
                    413: "The upload is too large",
                    415: "Neither JSON nor a form",
                    422: "A field breaks its rule, or the cover is not an image",
                    **DOWN,
                }
            ),
            **GUARDED,
        },
        body=Body(
            AlbumIn,
            (JSON, "multipart/form-data", "application/x-www-form-urlencoded"),
            files={"cover": "The cover image (PNG, JPEG, GIF or WebP; checked by decoding it)"},
            example=ALBUM_EXAMPLE,
        ),
        security=ADMIN,
    ),
    Operation(
        "DELETE",
        "/api/album/{id}",
        "Delete an album and its cover (admin)",
        {204: Answer("Deleted"), **errors({**NOT_THERE, **DOWN}), **GUARDED},
        params=(ALBUM_ID,),
        security=ADMIN,
    ),
    Operation(
        "POST",
        "/api/album/{id}/stock",
        "Restock: change an album's stock by a delta (admin); never below zero",
        {
            200: Answer("The album with its new stock", AlbumOut),
            409: Answer("The stock would go below zero or above the maximum", StockError),
            **errors({**BAD_BODY, **NOT_THERE, 415: "The body is not JSON", **DOWN}),
            **GUARDED,
        },
        body=Body(StockChangeIn, example={"delta": 5}),
        params=(ALBUM_ID,),
        security=ADMIN,
    ),
)

OPERATIONS = (*CATALOG_OPERATIONS, *STOCK_OPERATIONS, *EVERY_SERVICE)


def store_document() -> dict[str, Any]:
    """The store's OpenAPI document."""
    return build_document(
        title="Music Store: store",
        version="1",
        description='Catalog, covers, stock and statistics (port 5000). Errors are {"error": "..."}.',
        operations=OPERATIONS,
    )
