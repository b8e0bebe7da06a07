"""The traffic generator is told apart on the services' metrics: its HTTP users count as "traffic", the pages its
headless Chromium opens as "browser", and both say they are synthetic."""

from __future__ import annotations

from musicstore.common.metrics import caller_label, synthetic_label
from musicstore.traffic import identity


def test_the_traffic_generators_http_requests_count_as_traffic() -> None:
    assert caller_label(identity.HEADERS["User-Agent"]) == "traffic"
    assert synthetic_label([identity.HEADERS["baggage"]]) == "true"


def test_the_traffic_generators_browser_counts_as_a_browser_that_names_the_generator() -> None:
    assert caller_label(identity.BROWSER_USER_AGENT) == "browser"
    assert "musicstore-traffic/" in identity.BROWSER_USER_AGENT
