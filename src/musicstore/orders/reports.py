"""Figures for the dashboard: orders by status, revenue, revenue per day and top albums."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Integer, func, select, type_coerce
from sqlalchemy.orm import Session

from musicstore.common.db import utcnow
from musicstore.common.money import CENT
from musicstore.orders import rules
from musicstore.orders.models import Money, Order, OrderLine
from musicstore.orders.service import start_of_day

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Figures:
    """The dashboard's cards (revenue never counts cancelled orders)."""

    by_status: dict[str, int]
    revenue: Decimal
    revenue_today: Decimal
    paid_orders: int

    @property
    def average_order_value(self) -> Decimal:
        """Revenue divided by the orders that count towards it."""
        if not self.paid_orders:
            return ZERO
        return (self.revenue / self.paid_orders).quantize(CENT)

    @property
    def orders(self) -> int:
        """All orders, whatever their status."""
        return sum(self.by_status.values())


@dataclass(frozen=True)
class AlbumSales:
    """How much of one album was ordered."""

    album_id: int
    title: str
    artist: str
    copies: int
    revenue: Decimal


COUNTED = Order.status != rules.CANCELLED


def figures(session: Session, now: datetime | None = None) -> Figures:
    """Counts per status, revenue overall and today (UTC)."""
    now = now or utcnow()
    counts = dict(session.execute(select(Order.status, func.count()).group_by(Order.status)).all())
    revenue, paid = session.execute(select(func.coalesce(func.sum(Order.total), 0), func.count()).where(COUNTED)).one()
    today = session.scalar(
        select(func.coalesce(func.sum(Order.total), 0)).where(COUNTED, Order.created_at >= start_of_day(now.date()))
    )
    return Figures(
        by_status={s: int(counts.get(s, 0)) for s in rules.STATUSES},
        revenue=_money(revenue),
        revenue_today=_money(today),
        paid_orders=int(paid),
    )


def _money(value: object) -> Decimal:
    """A SUM of a Money column: already Decimal, or 0 from COALESCE on no rows."""
    return value if isinstance(value, Decimal) else rules.from_cents(int(value or 0))  # type: ignore[call-overload]


def revenue_per_day(session: Session, days: int = 14, now: datetime | None = None) -> list[tuple[date, Decimal]]:
    """Revenue of each of the last `days` days (UTC), oldest first, days without orders included."""
    today = (now or utcnow()).date()
    first = today - timedelta(days=days - 1)
    totals = {first + timedelta(days=i): ZERO for i in range(days)}
    since = start_of_day(first)
    rows = session.execute(select(Order.created_at, Order.total).where(COUNTED, Order.created_at >= since))
    # Bucketing in Python keeps the query the same on SQLite and PostgreSQL (their date functions differ).
    for created_at, total in rows:
        day = created_at.date()
        if day in totals:
            totals[day] += total
    return sorted(totals.items())


def top_albums(session: Session, limit: int = 5) -> list[AlbumSales]:
    """The albums ordered most (copies), cancelled orders left out."""
    copies = func.sum(OrderLine.quantity).label("copies")
    cents = func.sum(type_coerce(OrderLine.unit_price, Integer) * OrderLine.quantity, type_=Money())
    rows = session.execute(
        select(OrderLine.album_id, func.max(OrderLine.title), func.max(OrderLine.artist), copies, cents)
        .join(Order)
        .where(COUNTED)
        .group_by(OrderLine.album_id)
        .order_by(copies.desc(), OrderLine.album_id)
        .limit(limit)
    ).all()
    return [AlbumSales(album_id=a, title=t, artist=r, copies=int(c), revenue=_money(v)) for a, t, r, c, v in rows]
