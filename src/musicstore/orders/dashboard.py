"""The orders dashboard (admin): figures, revenue chart, top albums, the orders table and details."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from musicstore.common.auth import admin_page
from musicstore.common.db import get_database
from musicstore.common.pagination import page_args_or_first
from musicstore.common.text import MAX_EMAIL, query_text
from musicstore.orders import reports, rules, service
from musicstore.orders.forms import FilterForm, StatusForm
from musicstore.orders.models import Order

bp = Blueprint("dashboard", __name__)


def _filters() -> tuple[FilterForm, service.OrderFilter]:
    """The table's filters from the query string; invalid ones are shown and ignored.

    Control characters in the e-mail are a 400, as on every page: PostgreSQL cannot even compare them.
    """
    email = query_text(request.args, "email", max_length=MAX_EMAIL)
    form = FilterForm(request.args)
    form.validate()
    start, end = _valid(form.date_from), _valid(form.date_to)
    if start and end and end < start:
        form.date_to.errors = ["is before From"]
    where = service.OrderFilter(
        status=_valid(form.status) or "",
        email_contains="" if form.email.errors else email,
        date_from=_valid(form.date_from),
        date_to=_valid(form.date_to),
    )
    return form, where


def _valid(field: Any) -> Any:
    """A filter field's value, or None when it did not validate."""
    return None if field.errors else field.data


def _chart(days: list[tuple[Any, Any]]) -> dict[str, Any]:
    """Bar geometry of the revenue chart, computed here so the template only draws."""
    top = max((amount for _, amount in days), default=0) or 1
    height, step = 160, 48
    bars = [
        {"x": 40 + i * step, "h": round(float(amount / top) * height, 1), "day": day, "amount": amount}
        for i, (day, amount) in enumerate(days)
    ]
    return {"bars": bars, "height": height, "width": 40 + len(days) * step + 10, "base": 20 + height}


@bp.get("/")
@admin_page
def index() -> str:
    """Figures, revenue per day, top albums and the filtered, paged orders table."""
    session = get_database(current_app).session
    form, where = _filters()
    page, per_page = page_args_or_first(request.args, default_per_page=20)
    found = service.search_orders(session, where, page=page, per_page=per_page)
    params = {k: v for k, v in request.args.items() if k in form.data and v}
    return render_template(
        "dashboard/index.html",
        figures=reports.figures(session),
        chart=_chart(reports.revenue_per_day(session)),
        top=reports.top_albums(session),
        form=form,
        found=found,
        page_params=params,
        active_tab="orders",
    )


def _order_or_404(order_id: int) -> Order:
    try:
        return service.get_order(get_database(current_app).session, order_id)
    except service.OrderNotFound:
        raise NotFound(f"Order {order_id} does not exist.") from None


def _render_detail(order: Order, status: int = 200) -> tuple[str, int]:
    html = render_template(
        "dashboard/detail.html", order=order, form=StatusForm(formdata=None), actions=rules.ACTIONS, active_tab="orders"
    )
    return html, status


@bp.get("/orders/<int:order_id>")
@admin_page
def detail(order_id: int) -> tuple[str, int]:
    """One order: its lines, totals and the status changes allowed now."""
    return _render_detail(_order_or_404(order_id))


@bp.post("/orders/<int:order_id>/status")
@admin_page
def change_status(order_id: int) -> Response | tuple[str, int]:
    """Apply a status change from the detail page's buttons."""
    order = _order_or_404(order_id)
    form = StatusForm()
    if not form.validate_on_submit():
        flash("That status change was not understood; nothing changed.", "error")
        return _render_detail(order, 400)
    try:
        with get_database(current_app).transaction() as session:
            order = service.change_status(session, order_id, form.status.data or "")
    except rules.TransitionRefused as exc:
        flash(f"{order.order_number} was not changed: {exc}.", "error")
        return _render_detail(_order_or_404(order_id), 409)
    flash(f"{order.order_number} is now {order.status}.", "success")
    return redirect(url_for("dashboard.detail", order_id=order_id))
