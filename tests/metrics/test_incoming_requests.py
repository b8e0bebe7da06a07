"""Incoming requests are counted by endpoint, status, the calling service and whether they are synthetic."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from musicstore.common.metrics import caller_label, synthetic_label
from tests.metrics.conftest import scrape, value

CHROMIUM = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36"


@pytest.mark.parametrize(
    ("user_agent", "caller"),
    [
        ("musicstore-cart", "cart"),
        ("musicstore-store", "store"),
        ("musicstore-orders", "orders"),
        ("musicstore-traffic/0.1.0", "traffic"),
        ("musicstore-traffic/0.1.0 python-requests/2.32", "traffic"),
        (CHROMIUM, "browser"),
        ("Mozilla/5.0 (X11; Linux x86_64) musicstore-traffic/0.1.0", "browser"),
        ("musicstore-cartography", "other"),
        ("musicstore-", "other"),
        ("python-requests/2.32.3", "other"),
        ("curl/8.5.0", "other"),
        ("", "other"),
    ],
)
def test_the_caller_is_named_by_the_user_agent(user_agent: str, caller: str) -> None:
    assert caller_label(user_agent) == caller


@pytest.mark.parametrize(
    ("headers", "synthetic"),
    [
        (["synthetic_request=true"], "true"),
        (["userId=alice, synthetic_request=true"], "true"),
        (["userId=alice,synthetic_request = true ;ttl=30"], "true"),
        (["userId=alice", "synthetic_request=true"], "true"),
        (["synthetic_request=%74rue"], "true"),
        (["synthetic_request=false"], "false"),
        (["synthetic_request=truest"], "false"),
        (["note=synthetic_request=true"], "false"),
        (["x_synthetic_request=true"], "false"),
        (["synthetic_request"], "false"),
        (["userId=alice;synthetic_request=true"], "false"),
        ([""], "false"),
        ([], "false"),
    ],
)
def test_a_request_is_synthetic_when_its_baggage_says_synthetic_request_true(
    headers: list[str], synthetic: str
) -> None:
    assert synthetic_label(headers) == synthetic


def test_requests_are_counted_with_their_caller_and_whether_they_are_synthetic(client: FlaskClient) -> None:
    client.get("/healthz", headers={"User-Agent": "musicstore-cart"})
    client.get("/healthz", headers={"User-Agent": "musicstore-cart"})
    client.get("/healthz", headers={"User-Agent": CHROMIUM, "baggage": "synthetic_request=true"})
    client.get("/no/such/page", headers={"User-Agent": "musicstore-traffic/1", "baggage": "synthetic_request=true"})
    found = scrape(client, "http_requests_total")
    cart = {"method": "GET", "endpoint": "/healthz", "status": "200", "caller": "cart", "synthetic": "false"}
    assert value(found, **cart) == 2
    assert value(found, **{**cart, "caller": "browser", "synthetic": "true"}) == 1
    unmatched = {"method": "GET", "endpoint": "unmatched", "status": "404", "caller": "traffic", "synthetic": "true"}
    assert value(found, **unmatched) == 1


def test_a_request_whose_second_baggage_header_says_synthetic_is_counted_as_synthetic(client: FlaskClient) -> None:
    client.get("/healthz", headers=[("User-Agent", "musicstore-traffic"), ("baggage", "userId=alice"),
                                    ("baggage", "synthetic_request=true")])  # fmt: skip
    found = scrape(client, "http_requests_total")
    assert value(found, method="GET", endpoint="/healthz", status="200", caller="traffic", synthetic="true") == 1


def test_the_latency_histogram_is_labelled_by_method_endpoint_and_caller(client: FlaskClient) -> None:
    client.get("/healthz", headers={"User-Agent": "musicstore-store"})
    client.get("/healthz", headers={"User-Agent": "musicstore-store", "baggage": "synthetic_request=true"})
    counts = scrape(client, "http_request_duration_seconds_count")
    assert value(counts, method="GET", endpoint="/healthz", caller="store") == 2
    buckets = scrape(client, "http_request_duration_seconds_bucket")
    assert value(buckets, method="GET", endpoint="/healthz", caller="store", le="+Inf") == 2
