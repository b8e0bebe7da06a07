"""Changing the catalog: adding, editing and deleting albums with their covers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import IO

from sqlalchemy.orm import Session

from musicstore.store.covers import delete_cover, generate_cover, save_upload
from musicstore.store.models import Album
from musicstore.store.schemas import AlbumIn


def add_album(
    session: Session, data: AlbumIn, *, covers_dir: Path, cover: IO[bytes] | None, max_cover_bytes: int
) -> Album:
    """Add an album; its cover is the upload (proven an image) or a generated one."""
    if cover is not None:
        name = save_upload(cover, covers_dir, max_cover_bytes)
    else:
        name = generate_cover(data.title, data.artist, covers_dir)
    album = Album(**data.model_dump(), cover=name)
    session.add(album)
    session.flush()
    return album


def update_price_and_stock(album: Album, *, price: Decimal, stock: int) -> None:
    """Set an album's price and stock."""
    album.price = price
    album.stock = stock


def delete_album(session: Session, album: Album, *, covers_dir: Path) -> None:
    """Delete an album and its cover file."""
    cover = album.cover
    session.delete(album)
    session.flush()
    delete_cover(cover, covers_dir)
