"""Orders and their lines, with money kept as integer cents and times as UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, MetaData, String
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from musicstore.common.db import Base, utcnow
from musicstore.common.sessions import admin_sessions_in
from musicstore.orders import rules


class Money(TypeDecorator[Decimal]):
    """A Decimal amount stored as integer cents: exact on SQLite and PostgreSQL alike."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        """An amount on its way to the database, as whole cents."""
        return None if value is None else rules.to_cents(Decimal(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Whole cents from the database, as an amount with two decimals."""
        return None if value is None else rules.from_cents(int(value))


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both backends (SQLite keeps no zone, so we add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """A UTC time on its way to the database (naive UTC on SQLite); naive input is refused."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """A time from the database, always timezone-aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class OrdersBase(Base):
    """Declarative base of the order service's own tables."""

    __abstract__ = True
    metadata = MetaData()  # its own: a service migrates and compares only its own tables


admin_sessions_in(OrdersBase.metadata)  # its admin pages' sessions (musicstore.common.sessions)


STATUS_CHECK = "status IN ({})".format(", ".join(f"'{s}'" for s in rules.STATUSES))


class Order(OrdersBase):
    """One customer's order; only the card's brand and last four digits are kept."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(STATUS_CHECK, name="ck_orders_status"),
        CheckConstraint("total >= 0", name="ck_orders_total_not_negative"),
        Index("ix_orders_status_id", "status", "id"),
        Index("ix_orders_customer_email_id", "customer_email", "id"),
        Index("ix_orders_created_at", "created_at"),
        Index("ix_orders_reservation_id", "reservation_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    tracking_token: Mapped[str] = mapped_column(String(64), unique=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_email: Mapped[str] = mapped_column(String(254))
    card_brand: Mapped[str] = mapped_column(String(30))
    card_last4: Mapped[str] = mapped_column(String(4))
    total: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(16), default=rules.PENDING)
    # The store's hold on this order's stock; a cancellation returns it (see StockReturn).
    reservation_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id", lazy="selectin"
    )

    @property
    def order_number(self) -> str:
        """The readable number the customer sees, derived from the id (MS-000123)."""
        return rules.order_number(self.id)

    @property
    def next_statuses(self) -> tuple[str, ...]:
        """The statuses this order may move to now."""
        return rules.next_statuses(self.status)


class OrderLine(OrdersBase):
    """One album in an order, with the unit price the cart charged (no foreign key to the store)."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_order_lines_quantity_positive"),
        CheckConstraint("unit_price >= 0", name="ck_order_lines_unit_price_not_negative"),
        Index("ix_order_lines_order_id", "order_id"),
        Index("ix_order_lines_album_id", "album_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    album_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    artist: Mapped[str] = mapped_column(String(200))
    unit_price: Mapped[Decimal] = mapped_column(Money)
    quantity: Mapped[int] = mapped_column(Integer)
    order: Mapped[Order] = relationship(back_populates="lines")

    @property
    def line_total(self) -> Decimal:
        """Unit price times quantity."""
        return rules.line_total(self.unit_price, self.quantity)


class StockReturn(OrdersBase):
    """The outbox of stock returns: a cancelled order's reservation, kept until the store has taken it back.

    Recorded in the cancellation's transaction; a worker sends it (`orders.return_worker`) and retries with
    backoff, so a store that is down delays a return and never loses it.
    """

    __tablename__ = "stock_returns"
    __table_args__ = (Index("ix_stock_returns_due", "done_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    reservation_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)


class OrdersVersion(OrdersBase):
    """One row: a number triggers move on with every change to orders or their lines (migration 0004)."""

    __tablename__ = "orders_version"
    __table_args__ = (CheckConstraint("id = 1", name="ck_orders_version_one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
