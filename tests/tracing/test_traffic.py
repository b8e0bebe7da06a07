"""The traffic generator gives each journey its own trace: every request of it, the browser's too, carries one
traceparent's trace id beside the synthetic baggage, whether tracing is on or off."""

from __future__ import annotations

import re
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from musicstore.common.tracing import journey, outgoing_headers
from musicstore.traffic.browser import Browser, BrowserPool
from musicstore.traffic.shoppers import HttpShopper
from tests.support.servers import serving
from tests.traffic.test_journeys_on_fakes import FakeShop, configure, one_journey, served

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$")


@pytest.fixture()
def fake_shop() -> Iterator[tuple[FakeShop, str]]:
    """The traffic tests' fake shop on a free loopback port."""
    fake = FakeShop()
    with served(fake.app) as url:
        yield fake, url


def trace_id_of(headers: dict[str, str]) -> str:
    """The trace id of a request's traceparent (which must be well formed)."""
    match = TRACEPARENT.match(headers.get("Traceparent", headers.get("traceparent", "")))
    assert match, headers
    return match.group(1)


def test_every_request_of_one_journey_carries_the_same_trace_id_and_still_the_synthetic_baggage(
    fake_shop: tuple[FakeShop, str],
) -> None:
    fake, url = fake_shop
    configure(url)
    one_journey(HttpShopper)
    assert len(fake.headers) >= 8
    assert len({trace_id_of(headers) for headers in fake.headers}) == 1
    assert all(headers.get("Baggage") == "synthetic_request=true" for headers in fake.headers)


def test_two_journeys_are_two_traces(fake_shop: tuple[FakeShop, str]) -> None:
    fake, url = fake_shop
    configure(url)
    one_journey(HttpShopper)
    first = {trace_id_of(headers) for headers in fake.headers}
    fake.headers.clear()
    one_journey(HttpShopper)
    second = {trace_id_of(headers) for headers in fake.headers}
    assert len(first) == len(second) == 1 and first != second


class FakeDriver:
    """Records the DevTools commands a browser is sent."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, dict[str, Any]]] = []

    def execute_cdp_cmd(self, command: str, arguments: dict[str, Any]) -> None:
        self.commands.append((command, arguments))


def test_a_browser_sends_the_journeys_traceparent_beside_the_synthetic_baggage_on_every_request() -> None:
    driver = FakeDriver()
    browser = Browser(driver, "/nonexistent-profile", None)  # type: ignore[arg-type]
    seen = []
    for _ in range(2):
        with journey("journey: browser shopper"):
            browser.follow_journey()
        command, arguments = driver.commands[-1]
        assert command == "Network.setExtraHTTPHeaders"
        assert arguments["headers"]["baggage"] == "synthetic_request=true"
        seen.append(trace_id_of(arguments["headers"]))
    assert seen[0] != seen[1]


@pytest.mark.slow
def test_a_real_browser_sends_each_journeys_traceparent_on_every_request_of_it() -> None:
    from tests.traffic.test_browser import Recorder, start  # the real Chromium's helpers of the browser tests

    pool = BrowserPool(cap=1)
    try:
        with serving(ThreadingHTTPServer(("127.0.0.1", 0), Recorder)) as url:
            Recorder.seen = []
            browser = start(pool, [url])
            journeys = []
            for _ in range(2):
                with journey("journey: browser shopper"):
                    browser.follow_journey()  # type: ignore[attr-defined]
                    expected = trace_id_of(outgoing_headers())
                    already = len(Recorder.seen)
                    browser.driver.get(f"{url}/")  # type: ignore[attr-defined]  # the page and its image
                    journeys.append((expected, [headers for _, _, headers in Recorder.seen[already:]]))
    finally:
        pool.stop_all()
    assert journeys[0][0] != journeys[1][0]
    for expected, requests in journeys:
        assert len(requests) >= 2
        assert {trace_id_of(headers) for headers in requests} == {expected}
        assert all(headers.get("baggage") == "synthetic_request=true" for headers in requests)
