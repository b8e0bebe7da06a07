"""Changing the catalog: adding, editing and deleting albums with their cover files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import IO

from musicstore.common.db import Database
from musicstore.store.catalog import list_genres
from musicstore.store.covers import delete_cover, generate_cover, save_upload
from musicstore.store.models import Album
from musicstore.store.schemas import AlbumIn
from musicstore.store.stock import restock


def add_album(
    database: Database, data: AlbumIn, *, covers_dir: Path, cover: IO[bytes] | None, max_cover_bytes: int
) -> Album:
    """Add an album; its cover is the upload (proven an image) or a generated one, removed if the add fails."""
    data = data.model_copy(update={"genre": known_spelling(database, data.genre)})
    name = save_upload(cover, covers_dir, max_cover_bytes) if cover is not None else None
    name = name or generate_cover(data.title, data.artist, covers_dir)
    try:
        with database.transaction() as session:
            album = Album(**data.model_dump(), cover=name)
            session.add(album)
            session.flush()
    except BaseException:
        delete_cover(name, covers_dir)
        raise
    return album


def known_spelling(database: Database, genre: str) -> str:
    """The catalog's spelling of a genre it already has in another case ("jazz" -> "Jazz")."""
    for known in list_genres(database.session):
        if known.casefold() == genre.casefold():
            return known
    return genre


def update_price_and_stock(database: Database, album: Album, *, price: Decimal, stock_delta: int) -> None:
    """Set an album's price and change its stock by `stock_delta` relative to what it is now, or neither.

    Never set the stock to a number a page showed: checkouts may have reserved copies since (StockOutOfRange
    when the change would take the stock below zero; nothing is saved then).
    """
    with database.transaction() as session:
        if stock_delta:
            restock(session, album.id, stock_delta)
        album.price = price


def delete_album(database: Database, album: Album, *, covers_dir: Path) -> None:
    """Delete an album, then (once that is committed) its cover file."""
    cover = album.cover
    with database.transaction() as session:
        session.delete(album)
    delete_cover(cover, covers_dir)
