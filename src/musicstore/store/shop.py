"""The shop tab: the album grid with search, genre filter and pages; cover images."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, send_from_directory
from werkzeug.wrappers import Response

from musicstore.common.db import get_database
from musicstore.common.pagination import page_args_or_first
from musicstore.common.text import query_text
from musicstore.store.cache import cached
from musicstore.store.catalog import browse_albums, list_genres

bp = Blueprint("shop", __name__)

COVER_TYPES = {"png": "image/png", "jpg": "image/jpeg"}


@bp.get("/")
@cached
def index() -> str:
    """The album grid."""
    page, per_page = page_args_or_first(request.args, default_per_page=24)
    q, genre = query_text(request.args, "q"), query_text(request.args, "genre", 50)
    session = get_database(current_app).session
    found = browse_albums(session, q=q, genre=genre, page=page, per_page=per_page)
    return render_template(
        "shop/index.html",
        found=found,
        q=q,
        genre=genre,
        genres=list_genres(session),
        low_stock=current_app.config["SETTINGS"].LOW_STOCK_THRESHOLD,
        active_tab="shop",
    )


@bp.get("/covers/<name>")
def cover(name: str) -> Response:
    """A cover image, served with a content type we chose."""
    ext = name.rpartition(".")[2]
    if ext not in COVER_TYPES:
        abort(404)
    response = send_from_directory(
        current_app.config["SETTINGS"].covers_dir, name, mimetype=COVER_TYPES[ext], max_age=86400
    )
    response.headers["Content-Disposition"] = "inline"
    return response
