"""What the store's views look up in the current app: its settings and albums by id."""

from __future__ import annotations

from flask import current_app
from werkzeug.exceptions import NotFound

from musicstore.common.db import MAX_ID, get_database
from musicstore.store.models import Album
from musicstore.store.settings import StoreSettings


def store_settings() -> StoreSettings:
    """The running store's settings."""
    settings: StoreSettings = current_app.config["SETTINGS"]
    return settings


def album_or_404(album_id: int) -> Album:
    """The album with this id, or a 404 (a JSON error on API paths, a page elsewhere)."""
    album = get_database(current_app).session.get(Album, album_id) if 1 <= album_id <= MAX_ID else None
    if album is None:
        raise NotFound(f"Album {album_id} does not exist (it may have been deleted).")
    return album
