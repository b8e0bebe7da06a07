"""The catalog: albums, and the stock reservations checkout makes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from musicstore.common.db import Base, utcnow
from musicstore.common.sessions import admin_sessions_in


class StoreBase(Base):
    """Declarative base of the store's own tables."""

    __abstract__ = True
    metadata = MetaData()  # its own: a service migrates and compares only its own tables


admin_sessions_in(StoreBase.metadata)  # its admin pages' sessions (musicstore.common.sessions)


class Album(StoreBase):
    """An album for sale, with its price and the copies in stock."""

    __tablename__ = "albums"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="ck_albums_stock_not_negative"),
        CheckConstraint("price >= 0", name="ck_albums_price_not_negative"),
        Index("ix_albums_title_id_artist", "title", "id", postgresql_include=["artist"]),
        Index("ix_albums_genre_title_id", "genre", "title", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    artist: Mapped[str] = mapped_column(String(200))
    genre: Mapped[str] = mapped_column(String(50))
    year: Mapped[int] = mapped_column(Integer)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    stock: Mapped[int] = mapped_column(Integer, default=0)
    cover: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class Reservation(StoreBase):
    """Stock held for one checkout; its id comes from the cart and makes reserving idempotent."""

    __tablename__ = "reservations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # reserved | released | returned
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    lines: Mapped[list[ReservationLine]] = relationship(
        back_populates="reservation", cascade="all, delete-orphan", order_by="ReservationLine.album_id"
    )


class ReservationLine(StoreBase):
    """How many copies of one album a reservation holds (no foreign key: albums may be deleted)."""

    __tablename__ = "reservation_lines"

    reservation_id: Mapped[str] = mapped_column(ForeignKey("reservations.id", ondelete="CASCADE"), primary_key=True)
    album_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    reservation: Mapped[Reservation] = relationship(back_populates="lines")


class StoreMeta(StoreBase):
    """Facts about the catalog database itself, such as whether the demo catalog was seeded."""

    __tablename__ = "store_meta"

    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class CatalogVersion(StoreBase):
    """One row: a number a trigger moves on with every catalog change but stock (migration 0003)."""

    __tablename__ = "catalog_version"
    __table_args__ = (CheckConstraint("id = 1", name="ck_catalog_version_one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
