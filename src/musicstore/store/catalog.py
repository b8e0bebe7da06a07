"""Reading and changing the catalog: search, paging, statistics, album edits."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import distinct, func, literal, or_, select, text
from sqlalchemy.orm import Session

from musicstore.common.pagination import Page
from musicstore.store.models import Album


def _like_pattern(query: str) -> str:
    escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(q: str, genre: str) -> list[Any]:
    conditions: list[Any] = []
    if q:
        pattern = _like_pattern(q)
        conditions.append(
            or_(func.lower(Album.title).like(pattern, escape="\\"), func.lower(Album.artist).like(pattern, escape="\\"))
        )
    if genre:
        conditions.append(Album.genre == genre)
    return conditions


def _albums_in_order(session: Session, conditions: list[Any], *, limit: int, offset: int) -> list[Album]:
    """Albums matching the conditions by title then id, one slice of them.

    The slice is picked by id first and the rows fetched after: picking reads only the index on
    (title, id) that carries the artist too (migration 0004), so walking past thousands of rows that do
    not match a broad search, or past the pages before a deep one, never fetches them from the table.
    """
    picked = (
        select(Album.id, Album.title)
        .where(*conditions)
        .order_by(Album.title, Album.id)
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    query = select(Album).join(picked, Album.id == picked.c.id).order_by(picked.c.title, picked.c.id)
    return list(session.scalars(query))


def search_albums(session: Session, *, q: str = "", genre: str = "", page: int = 1, per_page: int = 20) -> Page[Album]:
    """One page of albums matching a text query and a genre, ordered by title, with the exact total (the API's)."""
    conditions = _conditions(q, genre)
    total = session.scalar(select(func.count()).select_from(Album).where(*conditions)) or 0
    items = _albums_in_order(session, conditions, limit=per_page, offset=(page - 1) * per_page)
    return Page(items=items, total=total, page=page, per_page=per_page)


COUNT_BOUND = 1000  # the shop counts up to this many albums exactly; beyond it, "about" or "more than"

CATALOG_SIZE = text("""
    SELECT (SELECT count(*) FROM (SELECT 1 FROM albums LIMIT :counted) AS first) AS counted,
           CASE WHEN c.relpages > 0 AND c.reltuples > 0
                THEN c.reltuples / c.relpages * (pg_relation_size(c.oid) / current_setting('block_size')::int)
           END AS estimate
    FROM pg_class AS c WHERE c.oid = 'albums'::regclass
""")


def _rounded(estimate: float) -> int:
    """An estimate to two significant figures, so it does not pretend to a precision it lacks."""
    return int(float(f"{estimate:.2g}"))


def _catalog_size(session: Session) -> tuple[int, Literal["exact", "about", "more than"]]:
    """The number of albums: exact up to the bound, else the planner's estimate scaled to the table's size now.

    The estimate is PostgreSQL's own (what ANALYZE and autovacuum last counted, per page of the table),
    so it costs one catalog lookup instead of a count of every row on every page view.
    """
    counted, estimate = session.execute(CATALOG_SIZE, {"counted": COUNT_BOUND + 1}).one()
    if counted <= COUNT_BOUND:
        return counted, "exact"
    if estimate is None:  # never analysed yet (a table just filled or emptied)
        return COUNT_BOUND, "more than"
    return max(_rounded(estimate), COUNT_BOUND), "about"


def _bounded_count(session: Session, conditions: list[Any]) -> tuple[int, Literal["exact", "more than"]]:
    """How many albums match, counting at most one past the bound."""
    first = select(literal(1)).select_from(Album).where(*conditions).limit(COUNT_BOUND + 1).subquery()
    counted = session.scalar(select(func.count()).select_from(first)) or 0
    return (counted, "exact") if counted <= COUNT_BOUND else (COUNT_BOUND, "more than")


def browse_albums(session: Session, *, q: str = "", genre: str = "", page: int = 1, per_page: int = 24) -> Page[Album]:
    """One page of albums for the shop's HTML page: the total is exact up to a bound, then estimated or bounded.

    Unfiltered, beyond the bound, the total is "about" the planner's estimate; with a search text or a
    genre it is "more than" the bound. Whether a next page exists is known exactly, from one row more.
    """
    conditions = _conditions(q, genre)
    total, total_is = _bounded_count(session, conditions) if conditions else _catalog_size(session)
    rows = _albums_in_order(session, conditions, limit=per_page + 1, offset=(page - 1) * per_page)
    return Page(
        items=rows[:per_page], total=total, page=page, per_page=per_page, total_is=total_is, more=len(rows) > per_page
    )


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
