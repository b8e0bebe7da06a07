"""The service map in the traffic generator's web UI (port 5004): `GET /service-map.json`, the page
`/service-map`, and a "Service map" tab in Locust's own UI.

The tab is one of Locust's extended tabs (`template_args["extended_tabs"]`); Locust shows an empty panel for it,
and our script, added to Locust's page, draws the map there (plain SVG, no library, nothing fetched from
elsewhere). Locust shows its tabs only once a run has started, so the script also puts a "Service map" link in
the header, to the page of its own that draws the same. Everything here sits behind the UI's guard
(musicstore.traffic.webui.harden): the same access rules as the rest of the UI.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template
from locust.env import Environment
from locust.web import WebUI

from musicstore.traffic.service_map import Scraper, ServiceMap
from musicstore.traffic.settings import TrafficSettings
from musicstore.traffic.webui import on_locusts_page

TAB = {"title": "Service map", "key": "service-map"}
REFRESH_SECONDS = 3  # how often the drawing asks for the map again (the map itself changes every scrape)
EXTENSION = "musicstore_service_map"

blueprint = Blueprint(
    "service_map",
    __name__,
    template_folder="templates",
    static_folder="static/service_map",
    static_url_path="/service-map/static",
)


@blueprint.get("/service-map.json")
def service_map_json() -> Response:
    """The map: {"nodes": [{id, up}], "edges": [{from, to, requests, rate, error_ratio, p95_ms, declared}]}."""
    scraper: Scraper = current_app.extensions[EXTENSION]
    response = jsonify(scraper.service_map.as_json())
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/service-map")
def page() -> str:
    """A page of its own with the map, for any time (Locust's tabs show only once a run has started)."""
    return render_template("service_map/page.html", refresh=REFRESH_SECONDS)


def add_to(web_ui: WebUI, scraper: Scraper) -> None:
    """Serve the map, its page and script on Locust's UI, add the tab, and have Locust's page load the script."""
    app = web_ui.app
    assert app is not None
    app.extensions[EXTENSION] = scraper
    app.register_blueprint(blueprint)
    tabs = web_ui.template_args.setdefault("extended_tabs", [])
    if TAB not in tabs:
        tabs.append(TAB)  # after any tab added before: others may extend the same UI
    on_locusts_page(app, lambda: render_template("service_map/_assets.html", refresh=REFRESH_SECONDS))


def install(environment: Environment, settings: TrafficSettings, service_urls: dict[str, str]) -> Scraper:
    """The service map on this process's web UI, scraping in the background until Locust quits."""
    assert environment.web_ui is not None
    service_map = ServiceMap(window=settings.TRAFFIC_MAP_WINDOW, interval=settings.TRAFFIC_MAP_INTERVAL)
    scraper = Scraper(
        service_map,
        settings.map_targets(service_urls),
        every_address=settings.TRAFFIC_MAP_EVERY_ADDRESS,
        timeout=min(2.0, settings.TRAFFIC_MAP_INTERVAL),
    )
    add_to(environment.web_ui, scraper)
    scraper.start(settings.TRAFFIC_MAP_INTERVAL)
    environment.events.quitting.add_listener(lambda **_: scraper.stop())
    return scraper
