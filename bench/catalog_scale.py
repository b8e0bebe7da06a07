"""Catalog scale: the shop page, search and genre filter with 100 and with 100,000 albums.

Runs the store under gunicorn on an embedded PostgreSQL, fills the catalog with generated rows,
and times each page over HTTP (median and p95 of N requests after a warm-up).
Usage: .venv/bin/python bench/catalog_scale.py [--requests 50]
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from tests.support.live import live_service

from musicstore.common.embedded_pg import EmbeddedPostgres, free_port
from musicstore.common.migrate import upgrade
from musicstore.store import MIGRATIONS

GENRES = [
    "Rock",
    "Jazz",
    "Pop",
    "Folk",
    "Soul",
    "Metal",
    "Indie",
    "Reggae",
    "Country",
    "Classical",
    "Hip-Hop",
    "Electronic",
]
PAGES = {
    "shop page": "/",
    "search": "/?q=midnight",
    "genre filter": "/?genre=Jazz",
    "genre + page 40": "/?genre=Jazz&page=40",
    "api search": "/api/albums?q=echo&per_page=20",
}


def fill(url: str, count: int) -> None:
    """Replace the catalog with `count` generated albums."""
    engine = create_engine(url)
    words = ["Midnight", "Echo", "Velvet", "Static", "Golden", "Paper", "Neon", "River", "Glass", "Iron"]
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE albums RESTART IDENTITY CASCADE"))
        conn.execute(
            text("""
            INSERT INTO albums (title, artist, genre, year, price, stock, cover)
            SELECT ((:w)::text[])[1 + i % 10] || ' ' || ((:w)::text[])[1 + (i / 10) % 10] || ' ' || i,
                   'Artist ' || (i % 5000), ((:g)::text[])[1 + i % 12], 1960 + i % 65,
                   5 + (i % 20), i % 30, NULL
            FROM generate_series(1, :n) AS i"""),
            {"w": words, "g": GENRES, "n": count},
        )
    # A catalog at rest: autovacuum sets the visibility map (index-only scans) and the statistics within a
    # minute of a bulk load; the benchmark measures that state, not the minute after the load.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE albums"))
    engine.dispose()


def timed(base: str, path: str, n: int) -> tuple[float, float]:
    """Median and p95 latency in ms of n GETs after 5 warm-up requests."""
    session = requests.Session()
    for _ in range(5):
        session.get(base + path, timeout=10).raise_for_status()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        session.get(base + path, timeout=10).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-catalog-"))
    pg = EmbeddedPostgres(root / "pg", port=free_port(), user="music_user", password=secrets.token_hex(8))
    with (root / "pg.log").open("wb") as log:
        pg.start(output=log)
    try:
        pg.create_database("bench")
        url = pg.url("bench")
        upgrade(MIGRATIONS, url)
        port = free_port()
        env = {
            "MODE": "production",
            "DATABASE_URL": url,
            "DATA_DIR": str(root / "var"),
            "SECRET_KEY": "b",
            "ADMIN_PASSWORD": "b",
            "SERVICE_TOKEN": "b",
            "LOG_LEVEL": "WARNING",
            "CATALOG_CACHE_SECONDS": "0",  # the database path: the catalog cache would answer repeats from memory
        }
        results: dict[int, dict[str, tuple[float, float]]] = {}
        with live_service("musicstore.store.wsgi:app", port, env, root / "store.log") as store:
            for size in (100, 100_000):
                fill(url, size)
                results[size] = {name: timed(store.url, path, args.requests) for name, path in PAGES.items()}
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
            f"{args.requests} requests per row, one client, store under gunicorn (1 worker, 8 threads), "
            "catalog cache off\n"
        )
        print("| page | 100 albums p50 / p95 (ms) | 100,000 albums p50 / p95 (ms) | ratio of p50 |")
        print("|---|---|---|---|")
        for name in PAGES:
            small, large = results[100][name], results[100_000][name]
            print(
                f"| {name} | {small[0]:.1f} / {small[1]:.1f} | {large[0]:.1f} / {large[1]:.1f} | "
                f"{large[0] / small[0]:.2f}x |"
            )
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
