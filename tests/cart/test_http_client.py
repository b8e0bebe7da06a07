"""The shared HTTP client base and the cart's two clients, on a scripted transport."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import urllib3
from flask import Flask, g
from opentelemetry import trace
from opentelemetry.context import attach, detach
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from urllib3.exceptions import NewConnectionError, ProtocolError, ReadTimeoutError

from musicstore.cart.clients import OrdersClient, StockUnavailable, StoreClient
from musicstore.common import deadline
from musicstore.common.http import DownstreamError, DownstreamRejected, DownstreamUnavailable


@dataclass
class Sent:
    """One try as the pool got it."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    timeout: Any


class ScriptedPool:
    """Answers each try with the next step of a script (an exception, or a status and a JSON body), and remembers
    the tries; it stands where urllib3's connection pool does."""

    def __init__(self, *steps: Any) -> None:
        self.steps = list(steps)
        self.sent: list[Sent] = []

    def urlopen(self, method: str, url: str, *, body: bytes | None, headers: dict[str, str], timeout: Any,
                retries: Any, redirect: bool) -> urllib3.HTTPResponse:  # fmt: skip
        assert retries is False and redirect is False  # the client retries, and follows no redirect
        self.sent.append(Sent(method, url, headers, body, timeout))
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        status, answer = step
        return urllib3.HTTPResponse(body=json.dumps(answer).encode(), status=status, preload_content=True)


def timeout() -> ReadTimeoutError:
    return ReadTimeoutError(None, "/", "Read timed out.")  # type: ignore[arg-type]


def reset() -> ProtocolError:
    return ProtocolError("Connection aborted.", ConnectionResetError())


def client_with(cls: type, *steps: Any, retries: int = 2) -> tuple[Any, ScriptedPool]:
    pool = ScriptedPool(*steps)
    return cls("http://svc.test", timeout=2.5, token="tok", retries=retries, backoff=0, pool=pool), pool


ALBUM = {
    "id": 7,
    "title": "Blue",
    "artist": "Joni",
    "genre": "Folk",
    "year": 1971,
    "price": "12.99",
    "stock": 3,
    "cover_url": None,
}


def test_a_get_becomes_a_typed_album_with_a_decimal_price() -> None:
    store, pool = client_with(StoreClient, (200, ALBUM))
    album = store.get_album(7)
    assert album is not None and album.price == Decimal("12.99") and album.stock == 3
    assert [sent.timeout for sent in pool.sent] == [2.5]


def test_the_public_catalog_is_read_without_the_token_so_the_store_may_answer_from_its_cache() -> None:
    store, pool = client_with(StoreClient, (200, ALBUM), (200, {"items": [ALBUM]}), (200, {"albums": [ALBUM]}))
    store.get_album(7)
    store.get_albums([7])
    store.reserve("r-1", [(7, 1)])
    assert ["Authorization" in sent.headers for sent in pool.sent] == [False, False, True]
    assert pool.sent[2].headers["Authorization"] == "Bearer tok"  # stock is taken with the service's token


def test_an_unknown_album_is_none() -> None:
    store, _ = client_with(StoreClient, (404, {"error": "album 7 not found"}))
    assert store.get_album(7) is None


def test_a_malformed_album_is_a_downstream_error() -> None:
    store, _ = client_with(StoreClient, (200, {"id": 7}))
    with pytest.raises(DownstreamError):
        store.get_album(7)


def test_gets_are_retried_a_bounded_number_of_times_after_timeouts_and_5xx() -> None:
    store, pool = client_with(StoreClient, timeout(), (503, {}), (200, ALBUM))
    assert store.get_album(7) is not None and len(pool.sent) == 3


def test_after_the_last_retry_the_error_says_what_happened() -> None:
    store, pool = client_with(StoreClient, reset(), timeout(), timeout())
    with pytest.raises(DownstreamUnavailable, match=r"no answer within 2\.5s"):
        store.get_album(7)
    assert len(pool.sent) == 3


def test_a_post_without_an_idempotency_key_is_never_retried() -> None:
    store, pool = client_with(StoreClient, timeout(), (200, {}))
    with pytest.raises(DownstreamUnavailable):
        store.post("/api/anything", {}, idempotent=False)
    assert len(pool.sent) == 1


def test_an_order_post_carries_its_idempotency_key_and_is_retried() -> None:
    order = {"id": 1, "order_number": "ORD-1", "total": "12.99", "tracking_url": "http://o/t/ORD-1"}
    order["items"] = [{"album_id": 7, "quantity": 1}]
    orders, pool = client_with(OrdersClient, (502, {}), (201, order))
    placed = orders.create_order("key-1", {"items": []})
    assert placed.order_number == "ORD-1" and placed.total == Decimal("12.99")
    assert [r.headers["Idempotency-Key"] for r in pool.sent] == ["key-1", "key-1"]


def test_a_4xx_is_rejected_at_once_with_the_services_message() -> None:
    orders, pool = client_with(OrdersClient, (422, {"error": "items: too short"}))
    with pytest.raises(DownstreamRejected, match="items: too short"):
        orders.create_order("key-1", {})
    assert len(pool.sent) == 1


def test_a_refused_reservation_lists_the_shortages() -> None:
    body = {"error": "not enough stock", "unavailable": [{"album_id": 7, "requested": 3, "available": 1}]}
    store, _ = client_with(StoreClient, (409, body))
    with pytest.raises(StockUnavailable) as caught:
        store.reserve("res-1", [(7, 3)])
    assert [(s.album_id, s.requested, s.available) for s in caught.value.shortages] == [(7, 3, 1)]


def test_the_request_id_travels_downstream() -> None:
    store, pool = client_with(StoreClient, (200, ALBUM))
    with Flask(__name__).test_request_context():
        g.request_id = "abc123"
        store.get_album(7)
    assert pool.sent[0].headers["X-Request-ID"] == "abc123"


def test_ping_is_false_when_the_service_is_unreachable() -> None:
    store, _ = client_with(StoreClient, reset())
    assert store.ping() is False


def test_a_call_under_a_deadline_sends_it_on_and_waits_no_longer_than_the_time_left() -> None:
    client, pool = client_with(StoreClient, (200, ALBUM))
    with deadline.within(1.0) as until:
        client.get_album(7)
    assert float(pool.sent[0].headers[deadline.DEADLINE_HEADER]) == pytest.approx(until, abs=0.01)
    assert 0 < pool.sent[0].timeout <= 1.0


def test_a_call_without_a_deadline_sends_no_deadline_header_and_uses_the_client_timeout() -> None:
    client, pool = client_with(StoreClient, (200, ALBUM))
    client.get_album(7)
    assert deadline.DEADLINE_HEADER not in pool.sent[0].headers
    assert pool.sent[0].timeout == 2.5


def test_a_call_whose_deadline_has_passed_is_not_sent_and_says_so() -> None:
    client, pool = client_with(StoreClient, (200, ALBUM))
    with deadline.within(0), pytest.raises(DownstreamUnavailable) as failed:
        client.get_album(7)
    assert pool.sent == []
    assert failed.value.sent is False


def test_a_connection_that_could_not_be_opened_was_not_sent_but_a_read_timeout_may_have_been() -> None:
    refused = NewConnectionError(None, "refused")  # type: ignore[arg-type]
    client, _ = client_with(OrdersClient, refused, retries=0)
    with pytest.raises(DownstreamUnavailable) as failed:
        client.create_order("key-1", {})
    assert failed.value.sent is False
    client, _ = client_with(OrdersClient, timeout(), retries=0)
    with pytest.raises(DownstreamUnavailable) as failed:
        client.create_order("key-1", {})
    assert failed.value.sent is True


def test_an_order_call_waits_a_grace_past_the_deadline_it_sends_so_a_late_order_is_known_to_be_refused() -> None:
    client, pool = client_with(OrdersClient, (201, {"id": 1, "order_number": "MS-1", "total": "1.00", "items": []}))
    with deadline.within(1.0) as until:
        client.create_order("key-1", {})
    sent_deadline = float(pool.sent[0].headers[deadline.DEADLINE_HEADER])
    assert sent_deadline < until  # the order service must be done before the cart stops waiting
    assert pool.sent[0].timeout == pytest.approx(until - time.time(), abs=0.05)


def test_the_order_a_key_made_is_found_by_the_key_and_none_when_it_made_none() -> None:
    order = {"id": 4, "order_number": "MS-4", "total": "25.98", "items": [{"album_id": 7, "quantity": 2}]}
    client, pool = client_with(OrdersClient, (200, {"items": [order], "total": 1}), (200, {"items": [], "total": 0}))
    found = client.find_order("key-00000001")
    assert found is not None and found.id == 4 and found.quantities == {7: 2}
    assert "idempotency_key=key-00000001" in pool.sent[0].url
    assert client.find_order("key-00000002") is None


def test_a_cart_is_priced_with_one_store_call_that_names_its_albums() -> None:
    other = {**ALBUM, "id": 9, "title": "Court and Spark"}
    client, pool = client_with(StoreClient, (200, {"items": [ALBUM, other], "total": 2}))
    albums = client.get_albums([7, 9, 404])
    assert [album.id for album in albums] == [7, 9] and albums[0].price == Decimal("12.99")
    assert len(pool.sent) == 1 and "ids=7%2C9%2C404" in pool.sent[0].url


def test_a_post_sends_its_body_as_json() -> None:
    client, pool = client_with(StoreClient, (200, {}))
    client.release("r-1")
    assert pool.sent[0].headers["Content-Type"] == "application/json"
    assert json.loads(pool.sent[0].body or b"") == {"reservation_id": "r-1"}


def test_the_callers_trace_context_travels_downstream() -> None:
    client, pool = client_with(StoreClient, (200, ALBUM))
    caller = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    token = attach(trace.set_span_in_context(NonRecordingSpan(caller)))
    try:
        client.get_album(7)
    finally:
        detach(token)
    assert pool.sent[0].headers["traceparent"] == f"00-{0x1234:032x}-{0x5678:016x}-01"


def test_a_redirect_is_not_followed_and_is_an_error() -> None:
    client, pool = client_with(StoreClient, (302, {}))
    with pytest.raises(DownstreamError, match="redirect") as failed:
        client.get_album(7)
    assert not isinstance(failed.value, (DownstreamRejected, DownstreamUnavailable)) and len(pool.sent) == 1


def test_a_base_url_with_a_path_calls_under_that_path() -> None:
    pool = ScriptedPool((200, ALBUM))
    StoreClient("http://proxy.test/store/", timeout=2.5, pool=pool).get_album(7)  # type: ignore[arg-type]
    assert pool.sent[0].url == "/store/api/album/7"
