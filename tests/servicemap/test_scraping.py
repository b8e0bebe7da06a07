"""Scraping: every pod of every service read over HTTP on loopback, in the background; a pod down is shown down."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from musicstore.common.embedded_pg import free_port
from musicstore.traffic.service_map import Scraper, ServiceMap, every_address
from tests.servicemap.exposition import Served, metrics_text
from tests.support.servers import serving
from tests.support.waiting import eventually


def metrics_server(text: str, status: int = 200) -> ThreadingHTTPServer:
    """A loopback server answering /metrics with this text; it records the User-Agent of each scrape."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.agents.append(self.headers.get("User-Agent", ""))  # type: ignore[attr-defined]
            body = text.encode() if self.path == "/metrics" else b"not here"
            self.send_response(status if self.path == "/metrics" else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.agents = []  # type: ignore[attr-defined]
    return server


@pytest.fixture()
def two_store_pods() -> Iterator[tuple[ThreadingHTTPServer, ThreadingHTTPServer]]:
    """Two replicas of the store, each having served the traffic generator a different number of times."""
    first, second = (
        metrics_server(metrics_text(Served("traffic", times=3))),
        metrics_server(metrics_text(Served("traffic", times=4))),
    )
    with serving(first), serving(second):
        yield first, second


def nodes(service_map: ServiceMap) -> dict[str, object]:
    return {n["id"]: n["up"] for n in service_map.as_json()["nodes"]}


def test_every_address_of_a_headless_name_is_scraped_and_the_replicas_summed(
    two_store_pods: tuple[ThreadingHTTPServer, ThreadingHTTPServer],
) -> None:
    ports = [server.server_port for server in two_store_pods]
    asked: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[tuple[str, int]]:
        asked.append((host, port))
        return [("127.0.0.1", p) for p in ports]  # two pods (here told apart by port: loopback has one address)

    service_map = ServiceMap(window=10, interval=5)
    scraper = Scraper(service_map, {"store": "http://store-pods:5000"}, every_address=True, timeout=2, resolve=resolve)
    scraper.scrape()
    assert asked == [("store-pods", 5000)]
    edges = service_map.as_json()["edges"]
    assert [(e["from"], e["to"], e["requests"]) for e in edges] == [("traffic", "store", 7)]
    assert all(server.agents == ["musicstore-traffic"] for server in two_store_pods)  # type: ignore[attr-defined]


def test_without_every_address_the_url_is_scraped_as_it_is(
    two_store_pods: tuple[ThreadingHTTPServer, ThreadingHTTPServer],
) -> None:
    service_map = ServiceMap(window=10, interval=5)
    url = f"http://127.0.0.1:{two_store_pods[0].server_port}"
    Scraper(service_map, {"store": url}, every_address=False, timeout=2).scrape()
    assert service_map.as_json()["edges"][0]["requests"] == 3


def test_a_service_that_refuses_fails_or_does_not_resolve_is_down_and_the_map_still_answers() -> None:
    failing = metrics_server("oops", status=500)
    with serving(failing) as failing_url:
        service_map = ServiceMap(window=10, interval=5)
        targets = {"store": f"http://127.0.0.1:{free_port()}", "orders": failing_url}
        Scraper(service_map, targets, every_address=False, timeout=2).scrape()
        assert nodes(service_map) == {"browser": True, "traffic": True, "store": False, "cart": False, "orders": False}

    def unknown(host: str, port: int) -> list[tuple[str, int]]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    Scraper(service_map, {"cart": "http://cart-pods:5002"}, every_address=True, timeout=2, resolve=unknown).scrape()
    assert nodes(service_map)["cart"] is False


def test_a_pod_that_answers_what_is_not_metrics_text_is_down() -> None:
    with serving(metrics_server("http_requests_total{caller=")) as url:
        service_map = ServiceMap(window=10, interval=5)
        Scraper(service_map, {"store": url}, every_address=False, timeout=2).scrape()
        assert nodes(service_map)["store"] is False


def test_every_address_of_localhost_is_a_loopback_address() -> None:
    found = every_address("localhost", 5000)
    assert ("127.0.0.1", 5000) in found or ("::1", 5000) in found
    assert all(port == 5000 for _, port in found)


def test_the_background_scraper_reads_every_interval_until_stopped(
    two_store_pods: tuple[ThreadingHTTPServer, ThreadingHTTPServer],
) -> None:
    service_map = ServiceMap(window=0.4, interval=0.2)
    url = f"http://127.0.0.1:{two_store_pods[0].server_port}"
    scraper = Scraper(service_map, {"store": url}, every_address=False, timeout=1)
    scraper.start(interval=0.2)
    try:

        def scraped_three_times() -> None:
            assert scraper.rounds >= 3

        eventually(scraped_three_times, timeout=10)
    finally:
        scraper.stop()
    assert not any(t.name == "service-map-scraper" and t.is_alive() for t in threading.enumerate())
    rounds = scraper.rounds
    assert len(two_store_pods[0].agents) == rounds  # type: ignore[attr-defined]
