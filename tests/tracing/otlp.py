"""An OTLP/HTTP trace receiver of a test's own on loopback: it decodes each ExportTraceServiceRequest it is sent."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.support.servers import serving


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as it was exported: the service that sent it, its ids in hex, its name, kind and attributes."""

    service: str
    trace_id: str
    span_id: str
    parent_id: str  # "" for a root
    name: str
    kind: int
    scope: str
    attributes: dict[str, Any] = field(default_factory=dict)


def decode(body: bytes) -> list[ReceivedSpan]:
    """The spans of one ExportTraceServiceRequest."""
    request = ExportTraceServiceRequest.FromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attributes = {kv.key: _value(kv.value) for kv in span.attributes}
                spans.append(
                    ReceivedSpan(
                        service=resource.get("service.name", ""),
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        name=span.name,
                        kind=span.kind,
                        scope=scope_spans.scope.name,
                        attributes=attributes,
                    )
                )
    return spans


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class OtlpReceiver:
    """Keeps every span it was sent; a test waits (bounded) until what it expects has arrived."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self._arrived = threading.Condition()

    def receive(self, body: bytes) -> None:
        """Decode one export and wake whoever waits."""
        spans = decode(body)
        with self._arrived:
            self.spans.extend(spans)
            self.requests += 1
            self._arrived.notify_all()

    def wait_until(self, ready: Callable[[list[ReceivedSpan]], bool], timeout: float) -> list[ReceivedSpan]:
        """The spans received once `ready` holds for them, or when `timeout` seconds have passed."""
        with self._arrived:
            self._arrived.wait_for(lambda: ready(list(self.spans)), timeout)
            return list(self.spans)


def _handler(receiver: OtlpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != "/v1/traces" or self.headers.get("Content-Type") != "application/x-protobuf":
                self.send_error(404)
                return
            receiver.receive(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


@contextmanager
def otlp_receiver() -> Iterator[tuple[OtlpReceiver, str]]:
    """A receiver on a free loopback port for the block; it and its endpoint (OTEL_EXPORTER_OTLP_ENDPOINT)."""
    receiver = OtlpReceiver()
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))) as url:
        yield receiver, url
