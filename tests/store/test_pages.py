"""The shop and stats tabs, parsed as HTML."""

from __future__ import annotations

from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient

from musicstore.common.db import get_database
from musicstore.store import create_app
from tests.store.conftest import create_album, store_settings


def page(client: FlaskClient, path: str) -> BeautifulSoup:
    response = client.get(path)
    assert response.status_code == 200
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def card(soup: BeautifulSoup, album_id: int):
    return soup.select_one(f'article.card[data-album-id="{album_id}"]')


def test_the_shop_shows_each_album_with_its_details_and_an_add_to_cart_form(app: Flask, client: FlaskClient) -> None:
    album_id = create_album(
        app,
        title="Kind of Green-ish",
        artist="Miles Away",
        genre="Jazz",
        year=1959,
        price="14.50",
        stock=10,
        cover=True,
    )
    item = card(page(client, "/"), album_id)
    assert item.select_one(".title").text == "Kind of Green-ish"
    assert item.select_one(".artist").text == "Miles Away"
    assert "Jazz" in item.select_one(".meta").text and "1959" in item.select_one(".meta").text
    assert item.select_one(".price").text == "$14.50"
    assert item.select_one("img")["src"].startswith("/covers/")
    form = item.select_one("form")
    assert form["action"] == "http://cart.test/add_to_cart" and form["method"] == "post"
    assert form.select_one("input[name=album_id]")["value"] == str(album_id)
    assert not item.select_one("button").has_attr("disabled")


def test_stock_states_read_in_stock_only_a_few_left_and_sold_out(app: Flask, client: FlaskClient) -> None:
    plenty, few, none = (create_album(app, title=t, stock=s) for t, s in [("A", 10), ("B", 2), ("C", 0)])
    soup = page(client, "/")
    assert card(soup, plenty).select_one(".stock-state").text.strip() == "In stock"
    assert card(soup, few).select_one(".stock-state").text.strip() == "Only 2 left"
    assert card(soup, none).select_one(".stock-state").text.strip() == "Sold out"
    assert card(soup, none).select_one("button").has_attr("disabled")


def test_search_and_genre_filter_narrow_the_grid(app: Flask, client: FlaskClient) -> None:
    create_album(app, title="Rock One", genre="Rock")
    create_album(app, title="Jazz One", genre="Jazz", artist="Quartet")
    titles = lambda soup: [t.text for t in soup.select("#albums .title")]  # noqa: E731
    assert titles(page(client, "/?q=quartet")) == ["Jazz One"]
    assert titles(page(client, "/?genre=Rock")) == ["Rock One"]
    assert page(client, "/?q=nothing-like-this").select_one(".empty") is not None
    options = [o.text for o in page(client, "/").select("select[name=genre] option")]
    assert options == ["All genres", "Jazz", "Rock"]


def test_the_shop_pages_through_a_long_catalog(app: Flask, client: FlaskClient) -> None:
    for i in range(30):
        create_album(app, title=f"Album {i:02d}")
    first = page(client, "/")
    assert len(first.select("article.card")) == 24
    assert "Page 1 of 2" in first.select_one(".pagination").text
    second = page(client, first.select_one("a[rel=next]")["href"])
    assert [t.text for t in second.select(".title")] == [f"Album {i:02d}" for i in range(24, 30)]


@pytest.mark.parametrize("query", ["page=abc", "page=-4", "per_page=x", "page=99999999999"])
def test_nonsense_paging_on_the_shop_page_shows_the_first_page(app: Flask, client: FlaskClient, query: str) -> None:
    create_album(app)
    assert len(page(client, f"/?{query}").select("article.card")) in (0, 1)


def test_a_title_with_a_script_tag_is_shown_escaped(app: Flask, client: FlaskClient) -> None:
    create_album(app, title="<script>alert(1)</script>", artist="<b>bold</b>")
    html = client.get("/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html


def test_the_stats_tab_shows_the_figures_and_a_bar_per_genre(app: Flask, client: FlaskClient) -> None:
    create_album(app, artist="A", genre="Rock", price="10.00", stock=2)
    create_album(app, artist="B", genre="Jazz", price="30.00", stock=1)
    create_album(app, artist="B", genre="Jazz", price="20.00", stock=0)
    soup = page(client, "/stats")
    assert soup.select_one("#stat-albums").text == "3"
    assert soup.select_one("#stat-artists").text == "2"
    assert soup.select_one("#stat-genres").text == "2"
    assert soup.select_one("#stat-average-price").text == "$20.00"
    assert soup.select_one("#stat-inventory-value").text == "$50.00"
    bars = soup.select("#genre-chart g")
    assert [b.select("text")[0].text for b in bars] == ["Jazz", "Rock"]
    assert float(bars[0].select_one("rect")["width"]) > float(bars[1].select_one("rect")["width"])


def test_an_unknown_page_is_a_friendly_404_page(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert soup.select_one("h1").text == "404"
    assert "Traceback" not in response.get_data(as_text=True)


def test_every_page_carries_the_security_headers(client: FlaskClient) -> None:
    for path in ["/", "/stats", "/login", "/api/albums", "/healthz"]:
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "form-action 'self' http://cart.test" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_health_readiness_and_metrics_answer(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["database"] == "up"
    client.get("/api/albums")
    metrics = client.get("/metrics").get_data(as_text=True)
    labels = 'caller="other",endpoint="/api/albums",method="GET",status="200",synthetic="false"'
    assert f"http_requests_total{{{labels}}}" in metrics
    assert "stock_reservations_refused_total" in metrics
    assert client.get("/metrics").headers["Content-Type"].count("charset") == 1


def test_covers_outside_the_covers_folder_cannot_be_read(client: FlaskClient) -> None:
    for path in ["/covers/..%2Fsecrets.json", "/covers/../secrets.json", "/covers/x.html", "/covers/missing.png"]:
        assert client.get(path).status_code == 404


def test_a_page_opened_under_another_loopback_name_moves_to_the_public_one(clean_store_db: str, data_dir: Path) -> None:
    app = create_app(store_settings(clean_store_db, data_dir, STORE_SERVICE_URL="http://localhost:5000"))
    client = app.test_client()
    moved = client.get("/?q=blue", base_url="http://127.0.0.1:5000")
    assert moved.status_code == 302 and moved.headers["Location"] == "http://localhost:5000/?q=blue"
    assert client.get("/", base_url="http://localhost:5000").status_code == 200
    assert client.get("/", base_url="http://127.0.0.1:5999").status_code == 200  # another port: not ours to move
    assert client.get("/", base_url="http://shop.example:5000").status_code == 200  # never off loopback
    assert client.post("/api/albums", base_url="http://127.0.0.1:5000", json={}).status_code == 401
    get_database(app).dispose()


@pytest.mark.parametrize(
    ("path", "status"),
    [("/api/albums", 200), ("/api/album/1", 404), ("/api/stats", 200), ("/healthz", 200), ("/readyz", 200),
     ("/metrics", 200)],
)  # fmt: skip
def test_apis_health_and_metrics_never_redirect_to_another_loopback_name(
    clean_store_db: str, data_dir: Path, path: str, status: int
) -> None:
    app = create_app(store_settings(clean_store_db, data_dir, STORE_SERVICE_URL="http://localhost:5000"))
    try:
        answer = app.test_client().get(path, base_url="http://127.0.0.1:5000")
        assert answer.status_code == status and "Location" not in answer.headers  # the catalog is empty: no album 1
    finally:
        get_database(app).dispose()


@pytest.mark.parametrize("path", ["/", "/?q=rock", "/stats", "/api/album/{id}"])
def test_a_visitor_without_cookies_is_given_none(app: Flask, client: FlaskClient, path: str) -> None:
    album_id = create_album(app, title="Rock Anthem")
    response = client.get(path.format(id=album_id))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
