"""The browser shopper: the system's headless Chromium through the real pages, from the shop to the confirmation."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from locust.exception import StopUser
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By

from musicstore.traffic import verify
from musicstore.traffic.browser import Browser, BrowserCapReached
from musicstore.traffic.catalog import pick_in_stock
from musicstore.traffic.journey import SOLD_OUT, JourneyUser, Outcome
from musicstore.traffic.run import CURRENT

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait

log = logging.getLogger(__name__)
WAIT = 20  # seconds a page may take to show what the journey waits for
SLOT_WAIT = 10  # seconds a browser shopper over the cap waits for a browser before it skips a turn
STOCK_WORDS = ("stock", "sold", "no longer")


def page_wait(driver: WebDriver) -> WebDriverWait[WebDriver]:
    """A wait of at most WAIT seconds for the page to show something. Selenium's waits import its remote driver
    (4 MB of the traffic UI's memory): the first browser journey loads them, not a UI that runs none."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT)


def money_text(text: str) -> str:
    """'$43.50' as '43.50'."""
    return text.strip().lstrip("$").replace(",", "")


class BrowserShopper(JourneyUser):
    """Buys through the real pages in headless Chromium; the order is verified in the order service."""

    kind = "browser shopper"
    weight = 1
    browser: Browser | None = None
    waiting_said = False

    def on_start(self) -> None:
        """Take part, and start this user's browser if a slot is free (else the first journey waits for one)."""
        super().on_start()
        self.get_browser(wait=0)

    def on_stop(self) -> None:
        """Quit this user's browser and leave the run."""
        self.drop_browser()
        super().on_stop()

    def ready(self) -> bool:
        """A journey needs a browser: wait a bounded time for a free slot (the cap), else skip this turn."""
        return self.browser is not None or self.get_browser(wait=SLOT_WAIT)

    def get_browser(self, *, wait: float) -> bool:
        """Start this user's browser, waiting at most `wait` seconds for a slot; False when none was free."""
        config, pool = self.config, CURRENT.browsers
        if pool.cap == 0:
            log.error("browser shoppers are off (max browsers 0): this user stops")
            raise StopUser()
        targets = [config.store_public, config.cart_public, config.orders_public]
        try:
            self.browser = pool.start(chromium=config.chromium, chromedriver=config.chromedriver, targets=targets,
                                      host_map=config.browser_hosts, sandbox=config.chromium_sandbox,
                                      wait=wait)  # fmt: skip
        except BrowserCapReached:
            if not self.waiting_said:
                log.warning("all %d browsers of this process are in use: this browser shopper waits for one", pool.cap)
                self.waiting_said = True
            return False
        except WebDriverException as exc:
            log.warning("a browser did not start (%s); the next journey tries again", str(exc).splitlines()[0])
            return False
        return True

    def drop_browser(self) -> None:
        """Quit the browser (after a failure, when recycled, when the user stops)."""
        if self.browser is not None:
            browser, self.browser = self.browser, None
            CURRENT.browsers.stop(browser)

    def journey_failed(self) -> None:
        """A failed journey may have left the browser in any state: start afresh next time."""
        self.drop_browser()

    def one_journey(self) -> Outcome:
        """Search and add albums on the shop page, change the cart, check out, pay, read the confirmation."""
        assert self.browser is not None  # ready() saw to it
        driver = self.browser.driver
        driver.execute_cdp_cmd("Network.clearBrowserCookies", {})  # a new visitor: a new, empty cart
        self.browser.follow_journey()  # every page of this journey in its trace
        albums = pick_in_stock(self, self.config.store, 2)
        added = [album for album in albums if self.add_from_shop(driver, album)]
        if not added:
            return SOLD_OUT
        self.change_cart(driver, added)
        shown = self.cart_shown(
            driver, prices={"items": [{"album_id": a["id"], "unit_price": a["price"]} for a in added]}
        )
        outcome = self.check_out_and_pay(driver, shown)
        self.browser.journeys += 1
        if self.browser.journeys >= self.config.browser_journeys:
            self.drop_browser()  # recycled: the next journey starts a fresh browser
        return outcome

    def add_from_shop(self, driver: WebDriver, album: dict[str, Any]) -> bool:
        """Find the album on the shop page by searching, press Add to cart; False when it is sold out."""
        store, cart = self.config.store_public, self.config.cart_public
        card_css = f'article[data-album-id="{album["id"]}"]'
        with self.timed("browser: search"):
            driver.get(f"{store}/?q={quote(str(album['title']))}")
            cards = driver.find_elements(By.CSS_SELECTOR, card_css)
        if not cards:
            gone = self.step("GET", f"{self.config.store}/api/album/{album['id']}", name="store: album api",
                             expect=(200, 404)).status_code == 404  # fmt: skip
            verify.expect(gone, f"searching the shop for {album['title']!r}: expected album {album['id']}, found none")
            return False  # the admin retired it since it was listed
        button = cards[0].find_element(By.CSS_SELECTOR, "button.add-to-cart")
        if not button.is_enabled():
            return False  # the shop page says it is sold out
        with self.timed("browser: add to cart"):
            button.click()
            page_wait(driver).until(lambda d: d.current_url == f"{cart}/cart")  # what ec.url_to_be asks
        if driver.find_elements(By.CSS_SELECTOR, f'tr.cart-line[data-album-id="{album["id"]}"]'):
            return True
        self.expect_stock_message(driver, f"expected album {album['id']} in the cart")
        return False

    def expect_stock_message(self, driver: WebDriver, expected: str) -> None:
        """A refusal is a verified sold-out only when the page says it is about stock."""
        message = " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, ".flash-error"))
        verify.expect(
            any(word in message.lower() for word in STOCK_WORDS), f"{expected}, found the message {message!r}"
        )

    def change_cart(self, driver: WebDriver, added: list[dict[str, Any]]) -> None:
        """Take two copies of the first album (when there are two), remove the last line (when there are two)."""
        wait = page_wait(driver)
        if int(added[0].get("stock", 0)) >= 2:
            with self.timed("browser: change quantity"):
                before = driver.find_element(By.ID, "cart-total").text
                row = driver.find_element(By.CSS_SELECTOR, f'tr.cart-line[data-album-id="{added[0]["id"]}"]')
                quantity = row.find_element(By.NAME, "quantity")
                quantity.clear()
                quantity.send_keys("2")
                quantity.send_keys("\t")  # leaving the field sends the change
                wait.until(
                    lambda d: (
                        d.find_element(By.ID, "cart-total").text != before
                        or d.find_element(By.ID, "cart-status").is_displayed()
                    )
                )
        if len(added) > 1:
            css = f'tr.cart-line[data-album-id="{added[-1]["id"]}"]'
            with self.timed("browser: remove line"):
                driver.find_element(By.CSS_SELECTOR, f"{css} .remove-form button").click()
                wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, css))

    def cart_shown(self, driver: WebDriver, prices: dict[str, Any]) -> dict[str, Any]:
        """The cart as the page shows it: its lines (album, quantity, and the price listed in `prices`) and total."""
        price_of = {int(i["album_id"]): i["unit_price"] for i in prices["items"]}
        items = []
        for row in driver.find_elements(By.CSS_SELECTOR, "tr.cart-line"):
            album_id = int(row.get_attribute("data-album-id") or 0)
            quantity = int(row.find_element(By.NAME, "quantity").get_attribute("value") or 0)
            items.append({"album_id": album_id, "quantity": quantity, "unit_price": price_of.get(album_id)})
        total = money_text(driver.find_element(By.ID, "cart-total").text)
        return {"items": items, "total": total}

    def check_out_and_pay(self, driver: WebDriver, shown: dict[str, Any]) -> Outcome:
        """Open the checkout, pay with a good card, and verify the order the confirmation names."""
        email = f"traffic-{uuid.uuid4().hex[:12]}@example.com"
        wait = page_wait(driver)
        with self.timed("browser: checkout page"):
            driver.find_element(By.ID, "checkout-link").click()
            form = wait.until(lambda d: d.find_element(By.ID, "payment-form"))  # ec.presence_of_element_located
        checkout_total = money_text(driver.find_element(By.ID, "checkout-total").text)
        verify.expect(
            Decimal(checkout_total) == Decimal(shown["total"]),
            f"expected the checkout to show the cart's total {shown['total']}, found {checkout_total}",
        )
        for name, value in (
            ("name", "Browser Shopper"),
            ("email", email),
            ("card_number", "4242424242424242"),
            ("expiry", "1239"),
            ("cvv", "123"),
        ):
            form.find_element(By.NAME, name).send_keys(value)
        with self.timed("browser: pay"):
            driver.find_element(By.ID, "pay-button").click()
            wait.until(
                lambda d: d.find_elements(By.ID, "order-number") or d.find_elements(By.CSS_SELECTOR, ".flash-error")
            )
        orders = self.orders_for(email)
        numbers = driver.find_elements(By.ID, "order-number")
        if not numbers:
            self.expect_stock_message(driver, "expected an order confirmation")
            verify.check_no_order(orders, email=email)
            with self.timed("browser: cart after refusal"):
                driver.get(f"{self.config.cart_public}/cart")
            verify.check_cart_kept(shown, self.cart_shown(driver, prices=shown))
            return SOLD_OUT
        order = verify.check_one_order(orders, email=email)
        verify.check_order_matches_cart(order, shown, email=email)
        verify.expect(
            numbers[0].text == order["order_number"],
            f"the confirmation shows order {numbers[0].text}, the order service has {order['order_number']}",
        )
        return Outcome("verified", orders=1)
