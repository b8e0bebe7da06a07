"""Reading and changing the catalog: search, paging, statistics, album edits."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import distinct, func, or_, select, text
from sqlalchemy.orm import Session

from musicstore.common.pagination import Page
from musicstore.store.models import Album


def _like_pattern(query: str) -> str:
    escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_albums(session: Session, *, q: str = "", genre: str = "", page: int = 1, per_page: int = 20) -> Page[Album]:
    """One page of albums matching a text query and a genre, ordered by title."""
    conditions: list[Any] = []
    if q:
        pattern = _like_pattern(q)
        conditions.append(
            or_(func.lower(Album.title).like(pattern, escape="\\"), func.lower(Album.artist).like(pattern, escape="\\"))
        )
    if genre:
        conditions.append(Album.genre == genre)
    total = session.scalar(select(func.count()).select_from(Album).where(*conditions)) or 0
    items = session.scalars(
        select(Album).where(*conditions).order_by(Album.title, Album.id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(items=list(items), total=total, page=page, per_page=per_page)


def albums_by_ids(session: Session, ids: list[int]) -> Page[Album]:
    """The albums with these ids, in the order asked; unknown ids are left out."""
    found = {album.id: album for album in session.scalars(select(Album).where(Album.id.in_(ids)))}
    items = [found[album_id] for album_id in dict.fromkeys(ids) if album_id in found]
    return Page(items=items, total=len(items), page=1, per_page=max(1, len(items)))


GENRES_BY_INDEX = text("""
    WITH RECURSIVE g(genre) AS (
        SELECT min(genre) FROM albums
        UNION ALL
        SELECT (SELECT min(genre) FROM albums WHERE genre > g.genre) FROM g WHERE g.genre IS NOT NULL
    )
    SELECT genre FROM g WHERE genre IS NOT NULL
""")


def list_genres(session: Session) -> list[str]:
    """Every genre in the catalog, alphabetically (one index probe per genre, not a scan of all albums)."""
    return list(session.scalars(GENRES_BY_INDEX))


@dataclass(frozen=True)
class CatalogStats:
    """Figures for the stats tab and /api/stats."""

    albums: int
    artists: int
    genres: int
    average_price: Decimal
    inventory_value: Decimal
    units_in_stock: int
    per_genre: list[tuple[str, int]]

    def as_json(self) -> dict[str, Any]:
        """The figures as the API answers them (money as two-decimal strings)."""
        return {
            "albums": self.albums,
            "artists": self.artists,
            "genres": self.genres,
            "average_price": f"{self.average_price:.2f}",
            "inventory_value": f"{self.inventory_value:.2f}",
            "units_in_stock": self.units_in_stock,
            "albums_per_genre": [{"genre": g, "albums": n} for g, n in self.per_genre],
        }


def catalog_stats(session: Session) -> CatalogStats:
    """Counts, average price, inventory value and albums per genre, computed in the database."""
    row = session.execute(
        select(
            func.count(Album.id),
            func.count(distinct(Album.artist)),
            func.count(distinct(Album.genre)),
            func.coalesce(func.avg(Album.price), 0),
            func.coalesce(func.sum(Album.price * Album.stock), 0),
            func.coalesce(func.sum(Album.stock), 0),
        )
    ).one()
    per_genre = session.execute(
        select(Album.genre, func.count(Album.id))
        .group_by(Album.genre)
        .order_by(func.count(Album.id).desc(), Album.genre)
    ).all()
    return CatalogStats(
        albums=row[0],
        artists=row[1],
        genres=row[2],
        average_price=Decimal(row[3]).quantize(Decimal("0.01")),
        inventory_value=Decimal(row[4]).quantize(Decimal("0.01")),
        units_in_stock=int(row[5]),
        per_genre=[(g, n) for g, n in per_genre],
    )
