"""The catalog cache: the shop page and album API are answered from memory, yet a price change or a deletion is
never served after its commit, in this worker or another; stock may be up to the cache's age old.

"Another worker or replica" is a second app on the same database: each has its own cache, as each gunicorn worker
and each replica does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from musicstore.common import versions
from musicstore.common.db import PING_AFTER_IDLE, get_database
from musicstore.common.versions import POOL_SIZE
from musicstore.store import create_app
from musicstore.store.cache import CatalogCache
from tests.store.conftest import ADMIN, SERVICE, create_album, store_settings
from tests.support.clock import FakeClock
from tests.support.sql import run_sql

THREADS = 8  # a gunicorn worker's request threads (WEB_THREADS)


@pytest.fixture
def clock(app: Flask) -> FakeClock:
    """The first app's cache reads this clock."""
    fake = FakeClock()
    cache: CatalogCache = app.extensions["catalog_cache"]
    cache.clock = fake
    return fake


@pytest.fixture
def other(clean_store_db: str, data_dir: Path) -> Iterator[FlaskClient]:
    """A client of a second store app on the same catalog (another worker or replica)."""
    second = create_app(store_settings(clean_store_db, data_dir), TESTING=True, WTF_CSRF_ENABLED=False)
    yield second.test_client()
    get_database(second).dispose()


def shop_price(client: FlaskClient, album_id: int) -> str:
    """The price the shop page shows for an album."""
    soup = BeautifulSoup(client.get("/").get_data(as_text=True), "html.parser")
    return soup.select_one(f'article.card[data-album-id="{album_id}"] .price').text


def shop_stock_state(client: FlaskClient, album_id: int) -> str:
    """What the shop page says about an album's stock."""
    soup = BeautifulSoup(client.get("/").get_data(as_text=True), "html.parser")
    return soup.select_one(f'article.card[data-album-id="{album_id}"] .stock-state').text.strip()


def test_a_stock_change_is_served_from_the_cache_until_it_is_a_second_old(
    app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    album_id = create_album(app, stock=10)
    assert client.get(f"/api/album/{album_id}").get_json()["stock"] == 10
    assert shop_stock_state(client, album_id) == "In stock"
    run_sql(app, f"UPDATE albums SET stock = 0 WHERE id = {album_id}")
    assert client.get(f"/api/album/{album_id}").get_json()["stock"] == 10  # from the cache: stock may lag
    assert shop_stock_state(client, album_id) == "In stock"
    clock.now += 1.01
    assert client.get(f"/api/album/{album_id}").get_json()["stock"] == 0
    assert shop_stock_state(client, album_id) == "Sold out"


def test_a_price_change_in_another_worker_is_served_at_once(
    app: Flask, client: FlaskClient, other: FlaskClient, clock: FakeClock
) -> None:
    album_id = create_album(app, price="12.99")
    assert client.get(f"/api/album/{album_id}").get_json()["price"] == "12.99"
    assert client.get(f"/api/albums?ids={album_id}").get_json()["items"][0]["price"] == "12.99"
    assert shop_price(client, album_id) == "$12.99"
    run_sql(app, f"UPDATE albums SET price = 15.49 WHERE id = {album_id}")
    assert client.get(f"/api/album/{album_id}").get_json()["price"] == "15.49"
    assert client.get(f"/api/albums?ids={album_id}").get_json()["items"][0]["price"] == "15.49"
    assert shop_price(client, album_id) == "$15.49"


def test_a_deleted_album_is_never_served_after_the_deletion(
    app: Flask, client: FlaskClient, other: FlaskClient, clock: FakeClock
) -> None:
    album_id = create_album(app, title="Going Away")
    assert client.get(f"/api/album/{album_id}").status_code == 200
    assert "Going Away" in client.get("/").get_data(as_text=True)
    assert other.delete(f"/api/album/{album_id}", headers=ADMIN).status_code == 204
    assert client.get(f"/api/album/{album_id}").status_code == 404
    assert client.get(f"/api/albums?ids={album_id}").get_json()["items"] == []
    assert "Going Away" not in client.get("/").get_data(as_text=True)


def test_an_added_album_shows_on_the_shop_page_at_once(app: Flask, client: FlaskClient, clock: FakeClock) -> None:
    create_album(app, title="First")
    assert "Newcomer" not in client.get("/").get_data(as_text=True)
    create_album(app, title="Newcomer")
    assert "Newcomer" in client.get("/").get_data(as_text=True)


def test_a_title_change_is_served_at_once_but_a_restock_alone_may_lag(
    app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    album_id = create_album(app, title="Old Name", stock=3)
    assert client.get(f"/api/album/{album_id}").get_json()["title"] == "Old Name"
    run_sql(app, f"UPDATE albums SET stock = 7 WHERE id = {album_id}")
    assert client.get(f"/api/album/{album_id}").get_json()["stock"] == 3
    run_sql(app, f"UPDATE albums SET title = 'New Name' WHERE id = {album_id}")
    answer = client.get(f"/api/album/{album_id}").get_json()
    assert (answer["title"], answer["stock"]) == ("New Name", 7)


def test_a_visitor_with_a_session_is_never_answered_from_the_cache(
    app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    album_id = create_album(app, stock=10)
    assert shop_stock_state(client, album_id) == "In stock"
    run_sql(app, f"UPDATE albums SET stock = 0 WHERE id = {album_id}")
    client.set_cookie("store_session", "anything", domain="localhost")
    assert shop_stock_state(client, album_id) == "Sold out"


def test_a_request_with_credentials_sees_the_stock_as_it_is_now(
    app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    album_id = create_album(app, stock=10)
    assert client.get(f"/api/album/{album_id}").get_json()["stock"] == 10
    run_sql(app, f"UPDATE albums SET stock = 6 WHERE id = {album_id}")
    assert client.get(f"/api/album/{album_id}").get_json()["stock"] == 10
    assert client.get(f"/api/album/{album_id}", headers=ADMIN).get_json()["stock"] == 6
    assert client.get(f"/api/albums?ids={album_id}", headers=SERVICE).get_json()["items"][0]["stock"] == 6


def test_the_cache_counts_its_hits_and_misses(app: Flask, client: FlaskClient, clock: FakeClock) -> None:
    album_id = create_album(app)
    for _ in range(3):
        client.get(f"/api/album/{album_id}")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'catalog_cache_requests_total{outcome="miss"} 1.0' in metrics
    assert 'catalog_cache_requests_total{outcome="hit"} 2.0' in metrics


def test_a_cache_of_age_zero_is_off(clean_store_db: str, data_dir: Path) -> None:
    app = create_app(store_settings(clean_store_db, data_dir, CATALOG_CACHE_SECONDS=0), TESTING=True)
    try:
        album_id = create_album(app, stock=10)
        client = app.test_client()
        assert client.get(f"/api/album/{album_id}").get_json()["stock"] == 10
        run_sql(app, f"UPDATE albums SET stock = 4 WHERE id = {album_id}")
        assert client.get(f"/api/album/{album_id}").get_json()["stock"] == 4
    finally:
        get_database(app).dispose()


def test_the_cache_keeps_at_most_its_size_of_answers() -> None:
    cache = CatalogCache(max_age=1.0, size=2)
    for key in ("a", "b", "c"):
        cache.put(key, 1, b"x", "text/plain")
    assert cache.get("a", 1) is None
    assert cache.get("b", 1) is not None and cache.get("c", 1) is not None
    assert cache.get("b", 2) is None  # another version of the catalog: not served


def test_a_worker_reading_the_version_from_all_its_threads_at_once_opens_no_more_connections_than_it_keeps(
    app: Flask,
) -> None:
    reader = app.extensions["catalog_version"]
    opened: list[object] = []
    event.listen(reader.engine(), "connect", lambda *_: opened.append(1))
    barrier = threading.Barrier(THREADS)

    def read_together(_: int) -> int | None:
        barrier.wait(timeout=10)  # every thread holds a connection at the same moment
        return reader.read()

    with ThreadPoolExecutor(THREADS) as pool:
        for _ in range(6):
            barrier.reset()
            assert None not in list(pool.map(read_together, range(THREADS)))
    # the threads share reads, and the connections they used were kept, not closed and opened again
    assert 1 <= len(opened) <= POOL_SIZE


def test_one_request_renews_an_answer_near_the_end_of_its_life_while_the_others_are_still_served_it() -> None:
    cache, clock = CatalogCache(max_age=1.0), FakeClock()
    cache.clock = clock
    cache.put("/", 7, b"page", "text/html")
    clock.now += 0.5
    assert cache.get("/", 7) is not None  # young: served to everyone
    clock.now += 0.35  # past RENEW_AFTER of its age
    assert cache.get("/", 7) is None  # this request makes the next copy (no stampede of all threads at expiry)
    assert [cache.get("/", 7) is not None for _ in range(5)] == [True] * 5  # the rest: the kept one, still < 1 s
    clock.now += 0.15
    assert cache.get("/", 7) is None  # a second old: never served, renewed or not
    cache.put("/", 7, b"page again", "text/html")
    found = cache.get("/", 7)
    assert found is not None and found.body == b"page again"


@pytest.fixture
def version_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The clock the catalog version reader reads its connections' idle times from."""
    fake = FakeClock()
    monkeypatch.setattr(versions.time, "monotonic", fake)
    return fake


def end_other_sessions(app: Flask) -> None:
    """End every other session on the app's database, as the server does to sessions idle past its timeout."""
    run_sql(
        app,
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )  # fmt: skip (waits for each to end)


def test_a_version_connection_ended_just_after_its_read_costs_one_uncached_answer_and_the_next_read_opens_another(
    app: Flask, version_clock: FakeClock
) -> None:
    clock = version_clock
    reader = app.extensions["catalog_version"]
    assert reader.read() is not None  # a connection is opened, and kept
    end_other_sessions(app)
    clock.now += PING_AFTER_IDLE / 2  # used just now: the server went away meanwhile, no new connection is tried
    assert reader.read() is None  # the kept one is gone: this request is answered from the database
    assert reader.read() is not None  # and the next one reads over a new connection


def test_a_version_connection_the_server_ended_while_it_idled_is_replaced_at_once_and_the_answer_stays_cached(
    app: Flask, version_clock: FakeClock
) -> None:
    clock = version_clock
    reader = app.extensions["catalog_version"]
    version = reader.read()
    assert version is not None
    end_other_sessions(app)  # as an idle-session timeout does (the embedded server's under `musicstore up`)
    clock.now += PING_AFTER_IDLE
    assert reader.read() == version
    kept = reader._idle.get_nowait()
    reader._idle.put(kept)
    assert not kept[0].closed  # the new connection is kept for the next read


def test_a_kept_version_connection_that_idled_and_fails_for_another_reason_is_not_tried_again(
    app: Flask, version_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = version_clock
    reader = app.extensions["catalog_version"]
    assert reader.read() is not None
    opened: list[object] = []
    open_connection = reader._open
    monkeypatch.setattr(reader, "_open", lambda engine: opened.append(engine) or open_connection(engine))
    monkeypatch.setattr(reader, "sql", "SELECT version FROM no_such_table")  # a failure that is not a lost connection
    clock.now += PING_AFTER_IDLE
    assert reader.read() is None
    assert opened == []


def test_disposing_of_the_reader_closes_the_connections_it_keeps(app: Flask) -> None:
    reader = app.extensions["catalog_version"]
    assert reader.read() is not None
    kept = reader._idle.get_nowait()
    reader._idle.put(kept)
    reader.dispose()
    assert kept[0].closed
