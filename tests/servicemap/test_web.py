"""The service map in the traffic generator's web UI: GET /service-map.json, its page, and Locust's "Service map" tab.

Locust's own web UI (its Flask app, not started as a server) with our guard, as the generator runs it.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient
from locust import HttpUser, task
from locust.env import Environment
from locust.web import WebUI

from musicstore.common.embedded_pg import free_port
from musicstore.traffic.service_map import Scraper, ServiceMap
from musicstore.traffic.service_map_ui import TAB, add_to, install
from musicstore.traffic.settings import TrafficSettings
from musicstore.traffic.webui import harden
from tests.servicemap.exposition import Queried, Sent, Served, metrics_text
from tests.servicemap.test_scraping import metrics_server
from tests.support.servers import serving
from tests.support.waiting import eventually

ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:secret").decode()}


class Shopper(HttpUser):
    """A user type for Locust's environment (never run here)."""

    host = "http://127.0.0.1:9"

    @task
    def nothing(self) -> None:
        """Nothing."""


@pytest.fixture()
def web_ui(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebUI]:
    """Locust's web UI app for a local runner, not serving (its test client is used)."""
    monkeypatch.setattr(sys, "argv", ["locust"])  # Locust's page reads its options from the command line
    environment = Environment(user_classes=[Shopper])
    environment.create_local_runner()
    ui = environment.create_web_ui("127.0.0.1", 0, delayed_start=True)
    yield ui
    assert environment.runner is not None
    environment.runner.quit()


def a_scraped_map() -> Scraper:
    """A scraper whose map has one round recorded: the cart down, the store called by the traffic generator."""
    service_map = ServiceMap(window=10, interval=5)
    store = metrics_text(Served("traffic", times=3), Served("cart"), Queried("postgres", times=2))
    orders = metrics_text(Served("store", endpoint="/api/orders"), Sent("store", route="/api/stock/return"))
    service_map.record({"store": {"s": store}, "cart": {"c": None}, "orders": {"o": orders}}, at=0)
    return Scraper(service_map, {}, every_address=False, timeout=1)


def guarded(web_ui: WebUI, *, need_login: bool) -> FlaskClient:
    assert web_ui.app is not None
    add_to(web_ui, a_scraped_map())
    harden(web_ui.app, user="admin", password="secret", need_login=need_login)
    return web_ui.app.test_client()


def test_the_map_is_served_as_json_in_the_shape_of_design_md(web_ui: WebUI) -> None:
    answer = guarded(web_ui, need_login=False).get("/service-map.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.get_json()
    assert set(body) == {"nodes", "edges"}
    assert {n["id"]: n["up"] for n in body["nodes"]} == {
        "browser": True, "traffic": True, "store": True, "cart": False, "orders": True, "postgres": True,
    }  # fmt: skip
    assert {(e["from"], e["to"], e["requests"], e["declared"]) for e in body["edges"]} == {
        ("traffic", "store", 3, True), ("cart", "store", 1, True), ("store", "postgres", 2, True),
        ("orders", "store", 1, True), ("store", "orders", 1, False),
    }  # fmt: skip


def test_off_loopback_the_map_takes_the_admin_s_credentials_like_the_rest_of_the_ui(web_ui: WebUI) -> None:
    client = guarded(web_ui, need_login=True)
    for path in ("/service-map.json", "/service-map", "/service-map/static/service-map.js"):
        assert client.get(path).status_code == 401, path
        with client.get(path, headers=ADMIN) as answer:
            assert answer.status_code == 200, path
    cross_site = client.get("/service-map.json", headers={**ADMIN, "Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403


class Assets(HTMLParser):
    """The scripts and style sheets a page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(str(found["src"]))
        if tag == "link" and found.get("rel") == "stylesheet":
            self.urls.append(str(found["href"]))
        if found.get("id"):
            self.ids.append(str(found["id"]))


def assets(html: str) -> Assets:
    parser = Assets()
    parser.feed(html)
    return parser


def test_locust_s_ui_gets_a_service_map_tab_and_loads_the_script_that_draws_it(web_ui: WebUI) -> None:
    web_ui.template_args["extended_tabs"] = [{"title": "Faults", "key": "faults"}]  # another tab, added before
    client = guarded(web_ui, need_login=False)
    page = client.get("/")
    assert page.status_code == 200
    assert web_ui.template_args["extended_tabs"] == [{"title": "Faults", "key": "faults"}, TAB]
    assert TAB == {"title": "Service map", "key": "service-map"}
    assert '"extended_tabs": [{"key": "faults", "title": "Faults"}, {"key": "service-map"' in page.text
    loaded = assets(page.text).urls
    assert "/service-map/static/service-map.js" in loaded and "/service-map/static/service-map.css" in loaded
    assert any(u.startswith("./assets/") for u in loaded)  # Locust's own app is still loaded


def test_the_map_s_own_page_loads_only_files_of_this_server(web_ui: WebUI) -> None:
    client = guarded(web_ui, need_login=False)
    page = client.get("/service-map")
    assert page.status_code == 200 and page.mimetype == "text/html"
    found = assets(page.text)
    assert "service-map" in found.ids
    assert found.urls and all(u.startswith("/service-map/static/") for u in found.urls)
    with client.get("/service-map/static/service-map.js") as script:
        assert script.status_code == 200 and "javascript" in script.mimetype
        code = script.text.replace('"http://www.w3.org/2000/svg"', "")  # SVG's namespace name, not a fetch
    assert "http://" not in code and "https://" not in code and "//cdn" not in code


def test_install_scrapes_in_the_background_from_the_start_and_stops_when_locust_quits(web_ui: WebUI) -> None:
    with serving(metrics_server(metrics_text(Served("traffic", times=2)))) as store_url:
        settings = TrafficSettings(TRAFFIC_MAP_INTERVAL=0.2, TRAFFIC_MAP_WINDOW=0.4)
        down = f"http://127.0.0.1:{free_port()}"
        scraper = install(web_ui.environment, settings, {"store": store_url, "cart": down, "orders": down})
        assert web_ui.app is not None
        client = web_ui.app.test_client()

        def store_up() -> None:
            body = client.get("/service-map.json").get_json()
            assert {n["id"]: n["up"] for n in body["nodes"]}["store"] is True
            assert scraper.rounds >= 2

        eventually(store_up, timeout=10)
        web_ui.environment.events.quitting.fire(environment=web_ui.environment)
        assert scraper._thread is not None and not scraper._thread.is_alive()
