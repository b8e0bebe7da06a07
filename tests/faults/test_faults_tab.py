"""The Faults tab of the traffic generator's web UI in headless Chromium: it shows the flags and switches one
by writing the flag file. The generator runs for real (`musicstore traffic`, local mode, on loopback); no
service is needed to switch a flag. A screenshot is kept."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from musicstore.common import flags
from musicstore.common.embedded_pg import free_port
from musicstore.common.flags import ALL_OFF
from tests.support.browser import chromium
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"  # git-ignored


@dataclass
class Generator:
    """`musicstore traffic` with its web UI at `url`, switching the flags in `flag_file`."""

    url: str
    flag_file: Path


@pytest.fixture(scope="module")
def generator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generator]:
    """The generator's UI on loopback, its flag file in a folder of the test's."""
    root = tmp_path_factory.mktemp("faults-ui")
    port, nowhere = free_port(), f"http://127.0.0.1:{free_port()}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TRAFFIC_", "LOCUST_", "FLAGS_"))},
        "MODE": "local",
        "STORE_SERVICE_URL": nowhere,
        "ORDER_SERVICE_URL": nowhere,
        "CART_SERVICE_URL": nowhere,
        "SERVICE_TOKEN": "faults-token",
        "ADMIN_PASSWORD": "faults-admin-password",
        "FLAGS_FILE": str(root / "flags.json"),
        "TMPDIR": str(root),
    }
    log = root / "traffic.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "musicstore.cli", "traffic", "--web-host", "127.0.0.1", "--web-port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:

        def answers() -> None:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                assert requests.get(f"{url}/faults", timeout=2).json() == ALL_OFF
            except requests.ConnectionError as exc:
                raise AssertionError(str(exc)) from None

        eventually(answers, timeout=60, interval=0.2)
        yield Generator(url, root / "flags.json")
    finally:
        process.terminate()
        process.wait(30)


def locusts_tab(browser: WebDriver, url: str, title: str) -> WebElement:
    """A tab of Locust's page during a run. Locust's page now and then comes up showing no run (its own race
    between the page and its first poll), so a page without tabs is loaded again (three times at most)."""
    for _ in range(3):
        browser.get(url)
        try:
            return WebDriverWait(browser, 10, ignored_exceptions=[StaleElementReferenceException]).until(
                lambda b: [t for t in b.find_elements(By.CSS_SELECTOR, '[role="tab"]') if t.text.lower() == title]
            )[0]
        except TimeoutException:
            continue
    raise AssertionError(f"Locust's page showed no {title!r} tab during a run")


def value_shown(browser: WebDriver, within: str, flag: str) -> str:
    """The value the switches show for a flag (its JSON)."""
    cell = browser.find_element(By.CSS_SELECTOR, f'{within} [data-flag="{flag}"] [data-value]')
    return cell.get_attribute("data-value") or ""


def test_the_tab_shows_the_flags_and_switches_them_by_writing_the_flag_file(generator: Generator) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    with chromium() as browser:
        browser.get(generator.url)  # before any run Locust shows no tabs: the header links to the switches' page
        WebDriverWait(browser, 20).until(lambda b: b.find_element(By.ID, "faults-link")).click()
        WebDriverWait(browser, 20).until(lambda b: b.current_url.endswith("/fault-switches"))
        WebDriverWait(browser, 20).until(lambda b: value_shown(b, "#faults", "paymentFailure") == "0")
        browser.find_element(By.CSS_SELECTOR, '#faults [data-flag="paymentFailure"] [data-variant="30%"]').click()
        WebDriverWait(browser, 10).until(lambda b: value_shown(b, "#faults", "paymentFailure") == "0.3")
        assert flags.read_values(generator.flag_file)["paymentFailure"] == 0.3

        field = browser.find_element(By.CSS_SELECTOR, '#faults [data-input="storeApiLatencyMs"]')
        field.clear()
        field.send_keys("750")
        browser.find_element(By.CSS_SELECTOR, '#faults [data-set="storeApiLatencyMs"]').click()
        WebDriverWait(browser, 10).until(lambda b: value_shown(b, "#faults", "storeApiLatencyMs") == "750")
        field.clear()
        field.send_keys("99999")  # out of range: refused, and the page says why
        browser.find_element(By.CSS_SELECTOR, '#faults [data-set="storeApiLatencyMs"]').click()
        WebDriverWait(browser, 10).until(
            lambda b: "from 0 to 30000" in b.find_element(By.CSS_SELECTOR, "#faults [role=status]").text
        )
        assert flags.read_values(generator.flag_file)["storeApiLatencyMs"] == 750

        started = requests.post(f"{generator.url}/swarm", data={"user_count": "0", "spawn_rate": "1"}, timeout=10)
        assert started.status_code == 200 and started.json()["success"], started.text
        tab = locusts_tab(browser, generator.url, "faults")
        tab.click()
        WebDriverWait(browser, 20).until(lambda b: "tab=faults" in b.current_url)
        WebDriverWait(browser, 20).until(lambda b: value_shown(b, "#faults-tab", "paymentFailure") == "0.3")
        browser.find_element(By.CSS_SELECTOR, '#faults-tab [data-flag="ordersUnavailable"] [data-variant="on"]').click()
        WebDriverWait(browser, 10).until(lambda b: value_shown(b, "#faults-tab", "ordersUnavailable") == "true")
        assert flags.read_values(generator.flag_file) == {
            **ALL_OFF, "paymentFailure": 0.3, "storeApiLatencyMs": 750, "ordersUnavailable": True,
        }  # fmt: skip
        browser.save_screenshot(str(SCREENSHOTS / "faults-tab.png"))

        flags.set_value(generator.flag_file, "paymentFailure", 0)  # switched elsewhere: the tab follows
        WebDriverWait(browser, 10).until(lambda b: value_shown(b, "#faults-tab", "paymentFailure") == "0")
