"""The admin tab: add albums with covers, edit price and stock, delete with confirmation."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from musicstore.common.auth import admin_page
from musicstore.common.db import get_database
from musicstore.common.pagination import page_args_or_first
from musicstore.common.text import query_text
from musicstore.store.albums import add_album, delete_album, update_price_and_stock
from musicstore.store.catalog import search_albums
from musicstore.store.context import album_or_404, store_settings
from musicstore.store.covers import InvalidCover
from musicstore.store.forms import AlbumForm, ConfirmForm, PriceStockForm
from musicstore.store.schemas import AlbumIn
from musicstore.store.stock import StockOutOfRange, UnknownAlbum

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _render_index(form: AlbumForm, status: int = 200) -> tuple[str, int]:
    page, per_page = page_args_or_first(request.args, default_per_page=25)
    q = query_text(request.args, "q")
    found = search_albums(get_database(current_app).session, q=q, page=page, per_page=per_page)
    html = render_template(
        "admin/index.html", form=form, found=found, q=q, active_tab="admin", page_endpoint="admin.index"
    )
    return html, status


@bp.get("")
@admin_page
def index() -> tuple[str, int]:
    """The album list with the add form."""
    return _render_index(AlbumForm())


@bp.post("/albums")
@admin_page
def create() -> Response | tuple[str, int]:
    """Add an album from the form."""
    form = AlbumForm()
    if not form.validate_on_submit():
        flash("The album was not added: please correct the fields marked below.", "error")
        return _render_index(form, 422)
    data = AlbumIn(
        title=form.title.data,
        artist=form.artist.data,
        genre=form.genre.data,
        year=form.year.data,
        price=form.price.data,
        stock=form.stock.data,
    )
    upload = form.cover.data
    settings = store_settings()
    try:
        album = add_album(
            get_database(current_app),
            data,
            covers_dir=settings.covers_dir,
            cover=upload.stream if upload and upload.filename else None,
            max_cover_bytes=settings.MAX_COVER_BYTES,
        )
    except InvalidCover as exc:
        form.cover.errors = [str(exc)]
        flash(f"The album was not added: {exc}.", "error")
        return _render_index(form, 422)
    flash(f"Added “{album.title}” by {album.artist}.", "success")
    return redirect(url_for("admin.index"))


@bp.post("/albums/<int:album_id>")
@admin_page
def update(album_id: int) -> Response | tuple[str, int]:
    """Change an album's price, and its stock by what the admin added to or took from the number shown."""
    form = PriceStockForm()
    album = album_or_404(album_id)
    if not form.validate_on_submit():
        problems = "; ".join(
            f"{form[field].label.text.lower()}: {', '.join(e.rstrip('.') for e in errs)}"
            for field, errs in form.errors.items()
        )
        flash(f"“{album.title}” was not changed: {problems}.", "error")
        return _render_index(AlbumForm(formdata=None), 422)
    title = album.title
    try:
        update_price_and_stock(get_database(current_app), album, price=form.price.data, stock_delta=form.stock_delta())
    except StockOutOfRange as exc:
        flash(f"“{title}” was not changed: {exc}. Copies were reserved or restocked meanwhile.", "error")
        return _render_index(AlbumForm(formdata=None), 409)
    except UnknownAlbum:
        abort(404)
    flash(f"Updated “{title}”: price {album.price:.2f}, stock {album.stock}.", "success")
    return redirect(request.referrer if _same_site_referrer() else url_for("admin.index"))


def _same_site_referrer() -> bool:
    referrer = request.referrer or ""
    return referrer.startswith(request.host_url + "admin")


@bp.route("/albums/<int:album_id>/delete", methods=["GET", "POST"])
@admin_page
def delete(album_id: int) -> Response | str:
    """Ask for confirmation, then delete the album."""
    album = album_or_404(album_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        title = album.title
        delete_album(get_database(current_app), album, covers_dir=store_settings().covers_dir)
        flash(f"Deleted “{title}”.", "success")
        return redirect(url_for("admin.index"))
    return render_template("admin/delete.html", album=album, form=form, active_tab="admin")
