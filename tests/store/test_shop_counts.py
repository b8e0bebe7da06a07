"""The shop page's counts: exact for a small catalog, estimated or bounded for a large one; the API's stay exact."""

from __future__ import annotations

from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from musicstore.common.db import get_database
from tests.store.conftest import create_album


def fill(app: Flask, count: int, *, title: str = "Album", genre: str = "Rock", analyse: bool = True) -> None:
    """Add `count` albums in one statement (titles `<title> 00001`...), then let the planner count them."""
    engine = create_engine(app.config["SETTINGS"].DATABASE_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(
            text("""
            INSERT INTO albums (title, artist, genre, year, price, stock)
            SELECT :title || ' ' || lpad(i::text, 5, '0'), 'Artist ' || i, :genre, 2000, 9.99, 5
            FROM generate_series(1, :n) AS i"""),
            {"title": title, "genre": genre, "n": count},
        )
        if analyse:
            conn.execute(text("VACUUM ANALYZE albums"))
    engine.dispose()


def page(client: FlaskClient, path: str) -> BeautifulSoup:
    response = client.get(path)
    assert response.status_code == 200
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def paging_text(soup: BeautifulSoup) -> str:
    return " ".join(soup.select_one(".pagination .muted").text.split())


def test_a_small_catalog_shows_its_exact_count(app: Flask, client: FlaskClient) -> None:
    fill(app, 1000)
    assert paging_text(page(client, "/")) == "Page 1 of 42 · 1,000 albums"


def test_a_large_catalog_shows_about_how_many_albums_from_the_planners_estimate(
    app: Flask, client: FlaskClient
) -> None:
    fill(app, 1500)
    soup = page(client, "/")
    assert paging_text(soup) == "Page 1 of about 63 · about 1,500 albums"
    assert len(soup.select("article.card")) == 24
    assert soup.select_one("a[rel=next]") is not None


def test_a_large_catalog_not_analysed_yet_shows_more_than_the_bound(app: Flask, client: FlaskClient) -> None:
    fill(app, 1500, analyse=False)
    assert paging_text(page(client, "/")) == "Page 1 · more than 1,000 matches"


def test_a_broad_search_and_a_broad_genre_say_more_than_a_thousand_matches(app: Flask, client: FlaskClient) -> None:
    fill(app, 1200, title="Broad", genre="Jazz")
    create_album(app, title="Narrow", genre="Rock")
    assert paging_text(page(client, "/?q=broad")) == "Page 1 · more than 1,000 matches"
    assert paging_text(page(client, "/?genre=Jazz")) == "Page 1 · more than 1,000 matches"
    assert [t.text for t in page(client, "/?q=narrow").select("#albums .title")] == ["Narrow"]


def test_a_search_under_the_bound_counts_exactly(app: Flask, client: FlaskClient) -> None:
    fill(app, 1200, title="Broad")
    fill(app, 30, title="Rare")
    assert paging_text(page(client, "/?q=rare")) == "Page 1 of 2 · 30 albums"


def test_the_api_total_stays_exact_however_large_the_catalog(app: Flask, client: FlaskClient) -> None:
    fill(app, 1200, title="Broad", genre="Jazz")
    fill(app, 300, title="Other", genre="Rock")
    assert client.get("/api/albums").get_json()["total"] == 1500
    assert client.get("/api/albums?q=broad").get_json()["total"] == 1200
    assert client.get("/api/albums?genre=Jazz").get_json()["total"] == 1200


def test_the_last_page_of_a_broad_search_has_no_next_link_however_the_total_reads(
    app: Flask, client: FlaskClient
) -> None:
    fill(app, 1010, title="Broad")
    last = page(client, "/?q=broad&page=43")
    assert [t.text for t in last.select("#albums .title")] == [f"Broad {i:05d}" for i in range(1009, 1011)]
    assert last.select_one("a[rel=next]") is None
    assert page(client, "/?q=broad&page=42").select_one("a[rel=next]") is not None


def test_pages_keep_the_order_and_albums_of_the_exact_listing(app: Flask, client: FlaskClient) -> None:
    fill(app, 1100, title="Same")  # equal titles apart from the number; ties broken by id as the API does
    create_album(app, title="Same 00050")
    shop = [c["data-album-id"] for c in page(client, "/?q=same&page=3").select("article.card")]
    api = [str(a["id"]) for a in client.get("/api/albums?q=same&page=3&per_page=24").get_json()["items"]]
    assert shop == api
    with app.app_context():
        rows = get_database(app).session.execute(
            text("SELECT id FROM albums WHERE lower(title) LIKE '%same%' ORDER BY title, id LIMIT 24 OFFSET 48")
        )
        assert shop == [str(r[0]) for r in rows]


def test_a_page_past_the_end_of_an_exact_list_leads_back(app: Flask, client: FlaskClient) -> None:
    for i in range(30):
        create_album(app, title=f"Album {i:02d}")
    soup = page(client, "/?page=9")
    assert soup.select("article.card") == []
    assert soup.select_one(".past-the-end a")["href"].startswith("/?")
    assert "page=2" in soup.select_one("a[rel=prev]")["href"]  # the last page, not the empty page 8


def test_a_page_past_the_end_of_an_estimated_list_is_empty_with_a_way_back(app: Flask, client: FlaskClient) -> None:
    fill(app, 1500)
    engine = create_engine(app.config["SETTINGS"].DATABASE_URL)
    with engine.begin() as conn:  # the estimate still says 1,500 until the next ANALYZE
        conn.execute(text("DELETE FROM albums WHERE id > 1100"))
    engine.dispose()
    soup = page(client, "/?page=60")
    assert "about 1,500 albums" in paging_text(soup)
    assert soup.select("article.card") == [] and soup.select_one("a[rel=next]") is None
    assert soup.select_one(".past-the-end a") is not None
