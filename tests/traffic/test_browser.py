"""The traffic generator's browsers: the system's Chromium, naming itself on every request, capped, its own only."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from musicstore.traffic.browser import BrowserCapReached, BrowserPool, resolver_rules
from musicstore.traffic.settings import TrafficSettings
from tests.support.browser import chromium
from tests.support.servers import serving

PAGE = b"""<!doctype html><html><body>
<img src="/cover.png" alt=""><form method="post" action="/pay"><input name="x" value="1">
<button id="go">Pay</button></form></body></html>"""


class Recorder(BaseHTTPRequestHandler):
    """Serves a page with an image and a form, and records every request's headers."""

    seen: list[tuple[str, str, dict[str, str]]] = []

    def do_GET(self) -> None:
        self._record()
        body = PAGE if self.path == "/" else b"done"
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if self.path == "/" else "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._record()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<p id='paid'>paid</p>")

    def _record(self) -> None:
        Recorder.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture()
def recorder() -> Iterator[str]:
    """A loopback web server that records what browsers send it."""
    Recorder.seen = []
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Recorder)) as url:
        yield url


@pytest.fixture()
def pool() -> Iterator[BrowserPool]:
    """A browser pool whose browsers are all quit after the test."""
    browsers = BrowserPool(cap=1)
    yield browsers
    browsers.stop_all()


def start(pool: BrowserPool, targets: list[str]) -> object:
    settings = TrafficSettings()
    return pool.start(chromium=settings.CHROMIUM_PATH, chromedriver=settings.CHROMEDRIVER_PATH, targets=targets, wait=0)


def test_only_the_targets_host_names_resolve_in_the_browser() -> None:
    rules = resolver_rules(["http://store.shop.test:5000", "http://cart.shop.test", "http://store.shop.test/x"])
    assert rules == "MAP * ~NOTFOUND,EXCLUDE cart.shop.test,EXCLUDE store.shop.test"


def test_public_names_mapped_for_a_deployment_come_before_everything_else() -> None:
    rules = resolver_rules(["http://store.shop.localhost"], [("store.shop.localhost", "store")])
    assert rules == "MAP store.shop.localhost store,MAP * ~NOTFOUND"


@pytest.mark.slow
def test_a_mapped_public_name_reaches_the_host_it_is_mapped_to(pool: BrowserPool, recorder: str) -> None:
    port = recorder.rsplit(":", 1)[1]
    public = f"http://store.shop.test:{port}"
    settings = TrafficSettings()
    browser = pool.start(chromium=settings.CHROMIUM_PATH, chromedriver=settings.CHROMEDRIVER_PATH, targets=[public],
                         wait=0, host_map=[("store.shop.test", "localhost")])  # fmt: skip
    browser.driver.get(f"{public}/")
    assert Recorder.seen and Recorder.seen[0][2]["host"] == f"store.shop.test:{port}"


@pytest.mark.slow
def test_a_public_name_on_port_80_can_be_mapped_to_a_service_port(pool: BrowserPool, recorder: str) -> None:
    port = recorder.rsplit(":", 1)[1]  # Kubernetes: the Ingress's port 80 outside, the Service's port inside
    settings = TrafficSettings()
    mapping = [("store.shop.test", f"localhost:{port}")]
    browser = pool.start(chromium=settings.CHROMIUM_PATH, chromedriver=settings.CHROMEDRIVER_PATH,
                         targets=["http://store.shop.test"], wait=0, host_map=mapping)  # fmt: skip
    browser.driver.get("http://store.shop.test/")
    assert Recorder.seen and Recorder.seen[0][2]["host"] == "store.shop.test"


@pytest.mark.slow
def test_every_request_of_a_browser_carries_the_synthetic_baggage_and_names_the_generator(
    pool: BrowserPool, recorder: str
) -> None:
    browser = start(pool, [recorder])
    driver = browser.driver  # type: ignore[attr-defined]
    driver.get(f"{recorder}/")
    driver.find_element(By.ID, "go").click()
    WebDriverWait(driver, 15).until(ec.presence_of_element_located((By.ID, "paid")))
    requests_seen = {(method, path) for method, path, _ in Recorder.seen}
    assert {("GET", "/"), ("GET", "/cover.png"), ("POST", "/pay")} <= requests_seen
    for method, path, headers in Recorder.seen:
        assert headers.get("baggage") == "synthetic_request=true", (method, path, headers)
        assert "musicstore-traffic/" in headers.get("user-agent", ""), (method, path, headers)


@pytest.mark.slow
def test_a_host_name_that_is_not_a_target_does_not_resolve(pool: BrowserPool, recorder: str) -> None:
    browser = start(pool, [recorder])
    driver = browser.driver  # type: ignore[attr-defined]
    port = recorder.rsplit(":", 1)[1]
    with pytest.raises(WebDriverException, match="ERR_NAME_NOT_RESOLVED"):
        driver.get(f"http://localhost:{port}/")  # the same server under a name that is not a target
    assert Recorder.seen == []
    driver.get(f"{recorder}/")  # the target itself resolves
    assert Recorder.seen


@pytest.mark.slow
def test_live_browsers_are_capped_and_a_quit_frees_the_slot_and_leaves_no_process(pool: BrowserPool) -> None:
    first = start(pool, ["http://127.0.0.1"])
    processes = psutil.Process(first.pid).children(recursive=True)  # type: ignore[attr-defined]
    assert any("chrom" in p.name() for p in processes)
    with pytest.raises(BrowserCapReached):
        start(pool, ["http://127.0.0.1"])
    pool.stop(first)  # type: ignore[arg-type]
    _gone, alive = psutil.wait_procs(processes, timeout=10)
    assert alive == []
    assert not psutil.pid_exists(first.pid) or psutil.Process(first.pid).status() == psutil.STATUS_ZOMBIE  # type: ignore[attr-defined]
    pool.stop(start(pool, ["http://127.0.0.1"]))  # type: ignore[arg-type]


@pytest.mark.slow
def test_stopping_every_browser_of_the_generator_leaves_a_browser_it_did_not_start_running(pool: BrowserPool) -> None:
    with chromium() as other:
        other.get("about:blank")
        start(pool, ["http://127.0.0.1"])
        pool.stop_all()
        assert pool.live == set()
        assert other.title == "" and other.current_url == "about:blank"  # still answering
