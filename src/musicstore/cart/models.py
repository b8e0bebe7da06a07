"""Carts, their lines, and the checkout attempts that make checkout idempotent."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Integer, MetaData, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from musicstore.common.db import Base, utcnow

# The states of a checkout attempt; what may follow what is musicstore.cart.attempts.TRANSITIONS.
PENDING, UNKNOWN, COMPLETED, FAILED, INTERRUPTED = "pending", "unknown", "completed", "failed", "interrupted"


class CartBase(Base):
    """Declarative base of the cart's own tables."""

    __abstract__ = True
    metadata = MetaData()  # its own: a service migrates and compares only its own tables


class Cart(CartBase):
    """One visitor's cart, named by the opaque id in their cookie."""

    __tablename__ = "carts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # Which checkout key is paying for the cart now: one checkout per cart at a time (two browser tabs
    # each carry their own key). Cleared when that checkout ends; a claim past the run's deadline is void
    # unless the outcome of its order is still unknown.
    checkout_key: Mapped[str | None] = mapped_column(String(64), default=None)
    checkout_started: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    items: Mapped[list[CartItem]] = relationship(
        back_populates="cart", cascade="all, delete-orphan", order_by="CartItem.added_at"
    )


class CartItem(CartBase):
    """How many copies of one album a cart holds; price and title always come from the store."""

    __tablename__ = "cart_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="ck_cart_items_quantity_positive"),)

    cart_id: Mapped[str] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"), primary_key=True)
    album_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    cart: Mapped[Cart] = relationship(back_populates="items")


class CheckoutAttempt(CartBase):
    """One checkout, by its idempotency key, and how it ended (so a repeat gets the same answer)."""

    __tablename__ = "checkout_attempts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    cart_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # see musicstore.cart.attempts
    attempt: Mapped[int] = mapped_column(Integer, default=1)  # numbers the store reservation id of each run
    release_owed: Mapped[bool] = mapped_column(Boolean, default=False)  # the attempt's release failed
    order_id: Mapped[int | None] = mapped_column(Integer, default=None)
    order_number: Mapped[str | None] = mapped_column(String(64), default=None)
    total: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), default=None)
    tracking_url: Mapped[str | None] = mapped_column(String(500), default=None)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    error_status: Mapped[int | None] = mapped_column(Integer, default=None)
    # No step of the run goes on after `deadline`: every downstream call is bounded by it, and the order
    # service is told to make no order after it. So a pending attempt past it was abandoned (its worker died),
    # and an order not found after it will never exist.
    deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    shopper_waiting: Mapped[bool] = mapped_column(Boolean, default=False)  # answered "pending": tell the outcome
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
