"""The store's JSON API: albums, statistics, and admin changes to the catalog."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import NotFound

from musicstore.common.auth import admin_api
from musicstore.common.bodies import json_object
from musicstore.common.db import MAX_ID, get_database
from musicstore.common.errors import ApiError
from musicstore.common.pagination import page_args
from musicstore.common.text import query_text
from musicstore.store import stock
from musicstore.store.albums import add_album, delete_album
from musicstore.store.cache import cached
from musicstore.store.catalog import albums_by_ids, catalog_stats, search_albums
from musicstore.store.context import album_or_404, store_settings
from musicstore.store.covers import InvalidCover
from musicstore.store.schemas import AlbumIn, StockChangeIn, album_json

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/album/<int(signed=True):album_id>")
@cached
def get_album(album_id: int) -> Response:
    """One album's details."""
    return jsonify(album_json(album_or_404(album_id), store_settings().STORE_PUBLIC_URL))


MAX_IDS = 100
IDS = re.compile(r"^[0-9]{1,10}(,[0-9]{1,10})*$")


def _ids(raw: str) -> list[int]:
    """The album ids of `?ids=3,1,7`: 1 to 100 positive whole numbers."""
    ids = [int(part) for part in raw.split(",")] if IDS.match(raw) else []
    if not ids or len(ids) > MAX_IDS or not all(1 <= album_id <= MAX_ID for album_id in ids):
        raise ApiError(f"ids must be 1 to {MAX_IDS} album ids separated by commas, such as ids=3,1,7", 400)
    return ids


@bp.get("/albums")
@cached
def list_albums() -> Response:
    """A page of albums, filtered by text and genre; or the albums named by `ids` (one call prices a cart)."""
    public_url = store_settings().STORE_PUBLIC_URL
    if "ids" in request.args:
        found = albums_by_ids(get_database(current_app).session, _ids(request.args["ids"]))
        return jsonify(found.as_json(lambda album: album_json(album, public_url)))
    page, per_page = page_args(request.args)
    q, genre = query_text(request.args, "q"), query_text(request.args, "genre", 50)
    found = search_albums(get_database(current_app).session, q=q, genre=genre, page=page, per_page=per_page)
    return jsonify(found.as_json(lambda album: album_json(album, public_url)))


@bp.get("/stats")
def stats() -> Response:
    """Catalog statistics."""
    return jsonify(catalog_stats(get_database(current_app).session).as_json())


def _album_input() -> tuple[AlbumIn, Any]:
    """The new album from a JSON body or a multipart form, with its cover upload if any."""
    if request.is_json:
        return AlbumIn.model_validate(json_object()), None
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields = {k: v for k, v in request.form.items()}
        cover = request.files.get("cover")
        return AlbumIn.model_validate(fields), (cover.stream if cover and cover.filename else None)
    raise ApiError("send the album as JSON or as a multipart form", 415)


@bp.post("/albums")
@admin_api
def create_album() -> tuple[Response, int]:
    """Add an album (admin)."""
    settings = store_settings()
    data, cover = _album_input()
    try:
        album = add_album(
            get_database(current_app),
            data,
            covers_dir=settings.covers_dir,
            cover=cover,
            max_cover_bytes=settings.MAX_COVER_BYTES,
        )
    except InvalidCover as exc:
        raise ApiError(str(exc), 422) from None
    return jsonify(album_json(album, settings.STORE_PUBLIC_URL)), 201


@bp.delete("/album/<int(signed=True):album_id>")
@admin_api
def remove_album(album_id: int) -> tuple[str, int]:
    """Delete an album (admin)."""
    delete_album(get_database(current_app), album_or_404(album_id), covers_dir=store_settings().covers_dir)
    return "", 204


@bp.post("/album/<int(signed=True):album_id>/stock")
@admin_api
def restock(album_id: int) -> Response:
    """Change an album's stock by a delta (admin); never below zero (409)."""
    if not request.is_json:
        raise ApiError("send the change as JSON (Content-Type: application/json)", 415)
    delta = StockChangeIn.model_validate(json_object()).delta
    try:
        with get_database(current_app).transaction() as session:
            album = stock.restock(session, album_id, delta)
    except stock.UnknownAlbum:
        raise NotFound(f"Album {album_id} does not exist.") from None
    except stock.StockOutOfRange as exc:
        raise ApiError(str(exc), 409, stock=exc.available) from None
    return jsonify(album_json(album, store_settings().STORE_PUBLIC_URL))
