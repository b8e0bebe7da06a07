"""In real headless Chromium: the admin logs in and moves an order from pending to shipped."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from musicstore.common.db import get_database
from musicstore.orders import create_app, prepare
from tests.orders.conftest import ADMIN_PASSWORD, SERVICE, insert_order, line, new_key, order_body, order_settings
from tests.orders.live import running_orders
from tests.support.browser import chromium
from tests.support.live import LiveService

pytestmark = pytest.mark.slow

ALBUMS = [
    (1, "Kind of Blue", "Miles Davis", "12.99"),
    (2, "Blue Train", "John Coltrane", "10.50"),
    (3, "Abbey Road", "The Beatles", "14.99"),
    (4, "Rumours", "Fleetwood Mac", "11.25"),
    (5, "Random Access Memories", "Daft Punk", "16.00"),
    (6, "Back to Black", "Amy Winehouse", "9.99"),
]
SCREENSHOT = Path("/tmp/orders-dashboard.png")


def _history(data_dir: Path) -> None:
    """Two weeks of orders in the SQLite file, so the dashboard has something to show."""
    settings = order_settings(data_dir, ORDER_DB_PATH=data_dir / "orders.db")
    prepare(settings)
    app = create_app(settings)
    pick = random.Random(7)
    now = datetime.now(UTC)
    for day in range(13, 0, -1):
        for _ in range(pick.randint(1, 4)):
            albums = pick.sample(ALBUMS, pick.randint(1, 3))
            insert_order(
                app,
                status=pick.choice(["delivered", "delivered", "shipped", "cancelled"]),
                created_at=now - timedelta(days=day, hours=pick.randint(0, 12)),
                items=[line(a, title=t, artist=r, unit_price=p, quantity=pick.randint(1, 3)) for a, t, r, p in albums],
            )
    get_database(app).dispose()


@pytest.fixture()
def orders(data_dir: Path) -> Iterator[LiveService]:
    """The order service under gunicorn, with two weeks of history."""
    _history(data_dir)
    with running_orders(data_dir) as services:
        yield services[0]


def _log_in(browser: WebDriver, url: str) -> WebDriverWait[WebDriver]:
    wait = WebDriverWait(browser, 15)
    browser.get(f"{url}/")
    wait.until(ec.presence_of_element_located((By.NAME, "username"))).send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(ADMIN_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait.until(ec.presence_of_element_located((By.ID, "revenue-chart")))
    return wait


def _press(browser: WebDriver, wait: WebDriverWait[WebDriver], status: str) -> None:
    browser.find_element(By.CSS_SELECTOR, f"#status-actions button[data-status={status}]").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f"#order-status .status-{status}")))


def test_admin_moves_an_order_from_pending_to_shipped_through_the_pages(orders: LiveService) -> None:
    body = order_body(
        customer_name="Grace Hopper",
        customer_email="grace@example.com",
        items=[
            line(1, unit_price="12.99", quantity=2),
            line(3, title="Abbey Road", artist="The Beatles", unit_price="14.99"),
        ],
    )
    with requests.post(
        f"{orders.url}/api/orders", json=body, timeout=10, headers={**SERVICE, "Idempotency-Key": new_key()}
    ) as created:
        order = created.json()
    with chromium() as browser:
        wait = _log_in(browser, orders.url)
        browser.save_screenshot(str(SCREENSHOT))
        row = browser.find_element(By.CSS_SELECTOR, f"#orders tr[data-order-id='{order['id']}'] a")
        assert row.text == order["order_number"]
        row.click()
        wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), order["order_number"]))
        assert browser.find_element(By.ID, "order-total").text == "$40.97"
        _press(browser, wait, "confirmed")
        _press(browser, wait, "shipped")
        buttons = browser.find_elements(By.CSS_SELECTOR, "#status-actions button")
        assert [b.get_attribute("data-status") for b in buttons] == ["delivered"]

        browser.get(order["tracking_url"])
        wait.until(ec.presence_of_element_located((By.ID, "progress")))
        assert browser.find_element(By.CSS_SELECTOR, "#order-status .status").text == "Shipped"
        assert "grace@example.com" not in browser.page_source
    with requests.get(f"{orders.url}/api/orders/{order['id']}", headers=SERVICE, timeout=10) as final:
        assert final.json()["status"] == "shipped"
    assert SCREENSHOT.stat().st_size > 10_000
