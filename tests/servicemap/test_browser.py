"""The Service map tab of the traffic generator's web UI, in headless Chromium: it draws the nodes and edges of
/service-map.json, undeclared edges in red, a service that is down as down. A screenshot is kept.

The generator runs for real (`musicstore traffic`, local mode, on loopback); the services it maps are stand-ins
answering /metrics in the metrics contract's format, one of them down, so the map is known in advance.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from musicstore.common.embedded_pg import free_port
from tests.servicemap.exposition import Queried, Sent, Served, metrics_text
from tests.servicemap.test_scraping import metrics_server
from tests.support.browser import chromium
from tests.support.servers import serving
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"  # git-ignored
RED = "rgb(211, 47, 47)"


@dataclass
class Generator:
    """`musicstore traffic` with its web UI at `url`, mapping stand-in services."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def map(self) -> dict[str, Any]:
        """GET /service-map.json."""
        body: dict[str, Any] = requests.get(f"{self.url}/service-map.json", timeout=5).json()
        return body


@pytest.fixture(scope="module")
def generator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generator]:
    """The generator's UI on loopback, mapping a store and an order service (one undeclared call each) and a cart
    that is down."""
    root = tmp_path_factory.mktemp("service-map-ui")
    store = metrics_text(
        Served("traffic", times=12), Served("cart", times=5), Served("other", times=2), Queried("postgres", times=30)
    )
    orders = metrics_text(
        Served("cart", times=2, endpoint="/api/orders", method="POST", status="201"),
        Served("store", endpoint="/api/orders"),
        Sent("store", route="/api/stock/return", method="POST"),
        Queried("orders-db", times=9),
    )
    with ExitStack() as stack:
        store_url = stack.enter_context(serving(metrics_server(store)))
        orders_url = stack.enter_context(serving(metrics_server(orders)))
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TRAFFIC_", "LOCUST_"))},
            "MODE": "local",
            "STORE_SERVICE_URL": store_url,
            "ORDER_SERVICE_URL": orders_url,
            "CART_SERVICE_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: the cart is down
            "SERVICE_TOKEN": "map-token",
            "ADMIN_PASSWORD": "map-admin-password",
            "TRAFFIC_MAP_INTERVAL": "0.5",
            "TRAFFIC_MAP_WINDOW": "1",
            "TMPDIR": str(root),
        }
        log = root / "traffic.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "musicstore.cli", "traffic", "--web-host", "127.0.0.1", "--web-port", str(port)],
                env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        running = Generator(f"http://127.0.0.1:{port}", process, log)
        try:

            def mapped() -> None:
                assert process.poll() is None, log.read_text()[-3000:]
                try:
                    body = running.map()
                except requests.ConnectionError as exc:
                    raise AssertionError(str(exc)) from None
                assert {n["id"]: n["up"] for n in body["nodes"]}["store"] is True

            eventually(mapped, timeout=60, interval=0.2)
            yield running
        finally:
            process.terminate()
            process.wait(30)


# What the map's SVG under a selector shows, read in one script (the map is redrawn every few seconds: elements
# looked up one by one could be replaced in between).
READ_DRAWING = """
const svg = document.querySelector(arguments[0] + " svg");
if (!svg) return null;
const attr = (el, name) => el.getAttribute(name);
return {
  nodes: [...svg.querySelectorAll("[data-node]")].map((n) => ({
    id: attr(n, "data-node"), up: attr(n, "data-up") === "true", cls: attr(n, "class"), text: n.textContent,
  })),
  edges: [...svg.querySelectorAll("[data-edge]")].map((e) => ({
    from: attr(e, "data-from"), to: attr(e, "data-to"), declared: attr(e, "data-declared") === "true",
    stroke: getComputedStyle(e.querySelector("path")).stroke,
    label: (svg.querySelector(`[data-label="${attr(e, "data-edge")}"]`) || {}).textContent || "",
  })),
};
"""


def drawing(browser: WebDriver, within: str) -> dict[str, Any]:
    """The nodes and edges drawn under `within` (empty before the map is drawn)."""
    found: dict[str, Any] | None = browser.execute_script(READ_DRAWING, within)
    return found or {"nodes": [], "edges": []}


def drawn(browser: WebDriver, within: str) -> tuple[dict[str, bool], dict[tuple[str, str], bool]]:
    """The nodes (id → up) and edges ((from, to) → declared) drawn in the map's SVG under `within`."""
    found = drawing(browser, within)
    return {n["id"]: n["up"] for n in found["nodes"]}, {(e["from"], e["to"]): e["declared"] for e in found["edges"]}


def of_json(body: dict[str, Any]) -> tuple[dict[str, bool], dict[tuple[str, str], bool]]:
    return {n["id"]: n["up"] for n in body["nodes"]}, {(e["from"], e["to"]): e["declared"] for e in body["edges"]}


def check_drawing(browser: WebDriver, within: str, body: dict[str, Any]) -> None:
    """The drawing under `within` is the map's JSON: its nodes, its edges, red for undeclared, labels with numbers."""
    WebDriverWait(browser, 20).until(lambda b: drawn(b, within) == of_json(body))
    found = drawing(browser, within)
    requests_of = {(e["from"], e["to"]): e["requests"] for e in body["edges"]}
    for edge in found["edges"]:
        assert (edge["stroke"] == RED) is not edge["declared"], edge
        label = edge["label"]
        assert f"{requests_of[edge['from'], edge['to']]} req" in label, edge
        assert "/s" in label and "err" in label and "p95" in label, edge
        assert ("not in the call matrix" in label) is not edge["declared"], edge
    cart = next(n for n in found["nodes"] if n["id"] == "cart")
    assert "down" in cart["cls"].split() and "down" in cart["text"], cart


def tab_named(browser: WebDriver, name: str) -> WebElement:
    """One of the tabs of Locust's UI, by its name (once Locust shows them)."""
    find = """return [...document.querySelectorAll('[role=tab]')]
              .find((tab) => tab.textContent.trim().toLowerCase() === arguments[0])"""
    tab: WebElement = WebDriverWait(browser, 20).until(lambda b: b.execute_script(find, name))
    return tab


def test_the_tab_draws_the_nodes_and_edges_of_the_map_with_undeclared_ones_in_red(generator: Generator) -> None:
    body = generator.map()
    nodes, edges = of_json(body)
    assert nodes["cart"] is False and edges[("store", "orders")] is False and edges[("other", "store")] is False
    assert edges[("cart", "store")] is True and edges[("store", "postgres")] is True
    SCREENSHOTS.mkdir(exist_ok=True)
    with chromium() as browser:
        browser.get(generator.url)  # before any run: Locust shows no tabs yet, the header links to the map
        link = WebDriverWait(browser, 20).until(lambda b: b.find_element(By.ID, "service-map-link"))
        link.click()
        WebDriverWait(browser, 20).until(lambda b: b.current_url.endswith("/service-map"))
        check_drawing(browser, "#service-map", body)
        browser.save_screenshot(str(SCREENSHOTS / "service-map-page.png"))

        started = requests.post(f"{generator.url}/swarm", data={"user_count": "0", "spawn_rate": "1"}, timeout=10)
        assert started.status_code == 200 and started.json()["success"], started.text

        def running() -> None:  # Locust starts the run after answering; its page shows the state it had when served
            assert requests.get(f"{generator.url}/stats/requests", timeout=5).json()["state"] == "running"

        eventually(running)
        browser.get(generator.url)
        tab_named(browser, "service map").click()
        WebDriverWait(browser, 20).until(lambda b: "tab=service-map" in b.current_url)
        check_drawing(browser, "#service-map-tab", body)
        screenshot = SCREENSHOTS / "service-map-tab.png"
        browser.save_screenshot(str(screenshot))
        print(f"\nservice map screenshots: {screenshot}, {SCREENSHOTS / 'service-map-page.png'}")

        tab_named(browser, "statistics").click()  # another tab: the map's panel goes away
        WebDriverWait(browser, 10).until(lambda b: not b.find_element(By.ID, "service-map-tab").is_displayed())
