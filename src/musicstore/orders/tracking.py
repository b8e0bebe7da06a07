"""Order tracking for the customer: one order's progress, opened by its unguessable token."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, make_response, render_template
from werkzeug.exceptions import NotFound

from musicstore.common.db import get_database
from musicstore.orders import rules, service

bp = Blueprint("tracking", __name__)

PROGRESS = (rules.PENDING, rules.CONFIRMED, rules.SHIPPED, rules.DELIVERED)


@bp.get("/track/<token>")
def show(token: str) -> Response:
    """The status, lines and total of the order this token belongs to, and nothing else."""
    order = service.order_by_token(get_database(current_app).session, token)
    if order is None:
        raise NotFound("We could not find that order. Check the link in your confirmation.")
    reached = PROGRESS.index(order.status) if order.status in PROGRESS else -1
    response = make_response(
        render_template("tracking/show.html", order=order, progress=PROGRESS, reached=reached, active_tab="orders")
    )
    # The token in the URL is the key to the page: keep it out of caches, referrers and search engines.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
