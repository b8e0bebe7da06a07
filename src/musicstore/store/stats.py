"""The stats tab: catalog figures and albums per genre as a chart."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from musicstore.common.db import get_database
from musicstore.store.catalog import catalog_stats

bp = Blueprint("stats", __name__)


@bp.get("/stats")
def index() -> str:
    """Catalog statistics."""
    figures = catalog_stats(get_database(current_app).session)
    most = max((n for _, n in figures.per_genre), default=1)
    return render_template("stats/index.html", stats=figures, most=most, active_tab="stats")
