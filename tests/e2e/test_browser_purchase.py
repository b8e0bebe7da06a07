"""A purchase in real headless Chromium: from the store's shop page to the cart's confirmation."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.conftest import Stack
from tests.support.browser import chromium

pytestmark = pytest.mark.slow
SCREENSHOTS = Path("/tmp")


def test_a_shopper_adds_from_the_shop_changes_the_quantity_checks_out_and_pays(stack: Stack) -> None:
    album = stack.add_album(price="14.50", stock=6)
    with chromium() as browser:
        wait = WebDriverWait(browser, 15)
        browser.get(f"{stack.store.url}/?q={album['title']}")
        card = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f'article[data-album-id="{album["id"]}"]')))
        card.find_element(By.CSS_SELECTOR, "button.add-to-cart").click()

        wait.until(ec.url_to_be(f"{stack.cart.url}/cart"))
        assert "Added" in browser.find_element(By.CSS_SELECTOR, ".flash-success").text
        row = browser.find_element(By.CSS_SELECTOR, f'tr.cart-line[data-album-id="{album["id"]}"]')
        assert not row.find_element(By.CSS_SELECTOR, ".update-button").is_displayed()  # JS changes in place
        quantity = row.find_element(By.NAME, "quantity")
        quantity.clear()
        quantity.send_keys("3")
        quantity.send_keys("\t")  # leaving the field fires "change"
        wait.until(ec.text_to_be_present_in_element((By.ID, "cart-total"), "$43.50"))
        assert row.find_element(By.CSS_SELECTOR, ".line-total").text == "$43.50"
        assert (
            browser.execute_script(
                "const img = document.querySelector('img.cover'); return img.complete && img.naturalWidth"
            )
            > 0
        )
        browser.save_screenshot(str(SCREENSHOTS / "musicstore-cart.png"))

        browser.find_element(By.ID, "checkout-link").click()
        form = wait.until(ec.presence_of_element_located((By.ID, "payment-form")))
        form.find_element(By.NAME, "name").send_keys("Grace Hopper")
        form.find_element(By.NAME, "email").send_keys("grace@example.com")
        number = form.find_element(By.NAME, "card_number")
        number.send_keys("5555555555554444")
        assert number.get_attribute("value") == "5555 5555 5555 4444"
        expiry = form.find_element(By.NAME, "expiry")
        expiry.send_keys("1239")
        assert expiry.get_attribute("value") == "12/39"
        form.find_element(By.NAME, "cvv").send_keys("123")
        browser.save_screenshot(str(SCREENSHOTS / "musicstore-checkout.png"))
        form.find_element(By.ID, "pay-button").click()

        order_number = wait.until(ec.presence_of_element_located((By.ID, "order-number"))).text
        assert browser.find_element(By.ID, "order-total").text == "$43.50"
        tracking = browser.find_element(By.ID, "tracking-link").get_attribute("href")
        browser.save_screenshot(str(SCREENSHOTS / "musicstore-confirmation.png"))

        # Back from the confirmation: not the paid checkout from the page cache (Pay stuck on "Processing…"),
        # but the cart as it is now, empty.
        browser.back()
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".cart-empty")))
        assert browser.current_url == f"{stack.cart.url}/cart"
        assert not browser.find_elements(By.ID, "pay-button")

    orders = stack.orders_for("grace@example.com")
    assert [(o["order_number"], o["total"], o["card_brand"], o["card_last4"]) for o in orders] == [
        (order_number, "43.50", "mastercard", "4444")
    ]
    assert tracking and tracking.startswith(stack.orders.url)
    assert stack.stock(album["id"]) == 3


FITS = """
const width = document.documentElement.clientWidth;
const inside = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.left >= 0 && r.right <= width; };
const outside = [...document.querySelectorAll(arguments[0])].filter(e => !inside(e)).map(e => e.outerHTML.slice(0, 80));
if (document.documentElement.scrollWidth > width) { outside.push("page " + document.documentElement.scrollWidth); }
return outside;
"""


def outside_the_screen(browser: WebDriver, selector: str) -> list[str]:
    """What of the selector is not wholly on screen (and the page's width when it scrolls sideways)."""
    outside: list[str] = browser.execute_script(FITS, selector)
    return outside


def test_the_cart_and_the_checkout_fit_a_phone_screen(stack: Stack) -> None:
    album = stack.add_album(price="19.99", stock=4, title=f"A Rather Long Album Title {uuid.uuid4().hex[:8]}")
    with chromium() as browser:
        browser.set_window_size(390, 844)
        wait = WebDriverWait(browser, 15)
        browser.get(f"{stack.store.url}/?q={album['title']}")
        card = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f'article[data-album-id="{album["id"]}"]')))
        card.find_element(By.CSS_SELECTOR, "button.add-to-cart").click()
        wait.until(ec.url_to_be(f"{stack.cart.url}/cart"))
        browser.save_screenshot(str(SCREENSHOTS / "musicstore-cart-390.png"))
        assert not outside_the_screen(
            browser,
            ".cart-line .line-total, .cart-line .remove-form button, .cart-line input[name=quantity], #checkout-link",
        )

        browser.find_element(By.ID, "checkout-link").click()
        wait.until(ec.presence_of_element_located((By.ID, "payment-form")))
        browser.save_screenshot(str(SCREENSHOTS / "musicstore-checkout-390.png"))
        assert not outside_the_screen(browser, "#pay-button, #card_number, #cvv, .summary-line .num, #checkout-total")
