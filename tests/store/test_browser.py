"""In real headless Chromium: the admin adds an album with a cover, finds it in the shop, deletes it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from musicstore.common.embedded_pg import free_port
from tests.store.conftest import ADMIN_PASSWORD, SERVICE_TOKEN
from tests.support.browser import chromium
from tests.support.live import LiveService, live_service

pytestmark = pytest.mark.slow


@pytest.fixture()
def store(clean_store_db: str, tmp_path: Path) -> Iterator[LiveService]:
    """The store running under gunicorn on a free port."""
    port = free_port()
    env = {
        "MODE": "production",
        "DATABASE_URL": clean_store_db,
        "DATA_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "browser-test",
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "SERVICE_TOKEN": SERVICE_TOKEN,
        "STORE_SERVICE_URL": f"http://127.0.0.1:{port}",
        "CART_SERVICE_URL": "http://127.0.0.1:9",
    }
    with live_service("musicstore.store.wsgi:app", port, env, tmp_path / "store.log") as service:
        yield service


def test_admin_adds_an_album_with_a_cover_sees_it_in_the_shop_and_deletes_it(
    store: LiveService, tmp_path: Path
) -> None:
    cover = tmp_path / "cover.png"
    Image.new("RGB", (120, 120), (220, 120, 30)).save(cover)
    with chromium() as browser:
        wait = WebDriverWait(browser, 15)
        browser.get(f"{store.url}/admin")
        wait.until(ec.presence_of_element_located((By.NAME, "username"))).send_keys("admin")
        browser.find_element(By.NAME, "password").send_keys(ADMIN_PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait.until(ec.presence_of_element_located((By.ID, "add-album")))

        form = browser.find_element(By.ID, "add-album")
        for name, value in {
            "title": "Selenium Sunrise",
            "artist": "The Drivers",
            "genre": "Electronic",
            "year": "2025",
            "price": "15.75",
            "stock": "3",
        }.items():
            field = form.find_element(By.NAME, name)
            field.clear()
            field.send_keys(value)
        form.find_element(By.NAME, "cover").send_keys(str(cover))
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash-success"), "Selenium Sunrise"))

        browser.get(f"{store.url}/?q=selenium")
        card = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "article.card")))
        assert card.find_element(By.CSS_SELECTOR, ".title").text == "Selenium Sunrise"
        assert card.find_element(By.CSS_SELECTOR, ".price").text == "$15.75"
        assert card.find_element(By.CSS_SELECTOR, ".stock-state").text == "Only 3 left"
        image = card.find_element(By.TAG_NAME, "img")
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) > 0
        browser.save_screenshot(str(tmp_path / "shop.png"))

        browser.get(f"{store.url}/admin?q=selenium")
        browser.find_element(By.CSS_SELECTOR, "#catalog a.danger").click()
        wait.until(ec.element_to_be_clickable((By.ID, "confirm-delete"))).click()
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash-success"), "Deleted"))

        browser.get(f"{store.url}/?q=selenium")
        assert browser.find_elements(By.CSS_SELECTOR, "article.card") == []
        assert "No albums match" in browser.find_element(By.CSS_SELECTOR, ".empty").text
