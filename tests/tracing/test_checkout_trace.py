"""With an OTLP endpoint, one checkout is one trace: spans from the cart, the store and the order service, every
parent in the trace, one root. The services run for real (`musicstore serve`) and export to a receiver of the
test's own on loopback; the shopper is a traced client of the test, so both its requests are in its trace."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import format_trace_id
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from musicstore.common.embedded_pg import EmbeddedPostgres
from tests.tracing.otlp import ReceivedSpan, otlp_receiver
from tests.tracing.stack import ADMIN_PASSWORD, SERVICE_TOKEN, served_stack

ADMIN = {"Authorization": "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()}
CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvv": "917"}
SERVICES = {"musicstore-cart", "musicstore-store", "musicstore-orders"}
SERVER_SPANS = {
    ("musicstore-cart", "POST /add_to_cart"),
    ("musicstore-cart", "POST /process_payment"),
    ("musicstore-store", "POST /api/stock/reserve"),
    ("musicstore-orders", "POST /api/orders"),
}


def complete(trace_id: str) -> Callable[[list[ReceivedSpan]], bool]:
    """True once the trace has the server spans of the checkout and spans of the three services, and no span's
    parent is missing. Each worker of a service exports its own spans, so one service's spans arrive in parts:
    the trace is complete only when every span the test asserts on has come."""

    def ready(spans: list[ReceivedSpan]) -> bool:
        mine = [span for span in spans if span.trace_id == trace_id]
        ids = {span.span_id for span in mine}
        services = {span.service for span in mine}
        parents = all(not s.parent_id or s.parent_id in ids for s in mine)
        return services >= SERVICES and server_spans(mine) >= SERVER_SPANS and parents

    return ready


def server_spans(spans: list[ReceivedSpan]) -> set[tuple[str, str]]:
    """(service, name) of the spans the services' Flask instrumentation made."""
    return {(s.service, s.name) for s in spans if s.scope == "opentelemetry.instrumentation.flask"}


@pytest.mark.slow
def test_one_checkout_is_one_trace_with_spans_of_cart_store_and_orders_and_every_parent_in_it(
    pg_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    client = TracerProvider(resource=Resource.create({"service.name": "tests-shopper"}))
    with otlp_receiver() as (receiver, endpoint):
        client.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        with served_stack(tmp_path, pg_server, "tracing_checkout", **env) as stack:
            album = requests.post(f"{stack.store.url}/api/albums", headers=ADMIN, timeout=10, json={
                "title": f"Traced {uuid.uuid4().hex[:8]}", "artist": "The Spans", "genre": "Test", "year": 2024,
                "price": "11.50", "stock": 3,
            }).json()  # fmt: skip
            shopper = requests.Session()
            with client.get_tracer("tests").start_as_current_span("checkout") as root:
                TraceContextTextMapPropagator().inject(shopper.headers)
                added = shopper.post(f"{stack.cart.url}/add_to_cart", json={"album_id": album["id"]}, timeout=10)
                paid = shopper.post(f"{stack.cart.url}/process_payment", timeout=30, json={
                    "name": "Trace Shopper", "email": "trace@example.com", **CARD,
                    "idempotency_key": str(uuid.uuid4()),
                })  # fmt: skip
            assert (added.status_code, paid.status_code) == (200, 201), paid.text
            trace_id = format_trace_id(root.get_span_context().trace_id)
            spans = receiver.wait_until(complete(trace_id), timeout=30)
        client.shutdown()

    trace = [span for span in spans if span.trace_id == trace_id]
    ids = {span.span_id for span in trace}
    assert {span.service for span in trace} >= SERVICES, sorted({s.service for s in trace})
    assert [span.name for span in trace if not span.parent_id] == ["checkout"]  # one root: the shopper's
    assert all(span.parent_id in ids for span in trace if span.parent_id), "a span whose parent is not in the trace"
    assert server_spans(trace) >= SERVER_SPANS
    queries = {s.service for s in trace if s.scope == "opentelemetry.instrumentation.sqlalchemy"}
    assert queries == SERVICES  # PostgreSQL for the store, SQLite for the cart and the order service
    text = repr([span.attributes for span in trace]).lower()  # bodies and credentials are never attributes
    for secret in ("4242424242424242", "4242 4242 4242 4242", "cvv", SERVICE_TOKEN, ADMIN_PASSWORD):
        assert secret not in text
