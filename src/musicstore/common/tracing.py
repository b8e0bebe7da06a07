"""OpenTelemetry traces: W3C `traceparent` and `baggage` always travel; spans are made only when exported.

Chosen once per process, from the environment, the first time a service's create_app (or a traffic journey)
asks for it:

- Tracing on, when OTEL_EXPORTER_OTLP_ENDPOINT is set (and OTEL_SDK_DISABLED is not true): the SDK's
  TracerProvider named `musicstore-<service>`, a BatchSpanProcessor exporting over OTLP/HTTP (the exporter reads
  the other OTEL_EXPORTER_OTLP_* variables, the processor OTEL_BSP_*), and the official Flask, requests, urllib3
  and SQLAlchemy instrumentations. Health checks and metric scrapes make no spans; a database query makes one only
  inside a traced request (the cart's and the order service's background sweeps would otherwise fill the
  backend with one-query traces).
- Tracing off, the default: the SDK is not even imported, and no span is made, kept or sent, and no thread
  started. The OpenTelemetry API's own no-op provider stays, and propagation still works: a small WSGI
  middleware makes the caller's traceparent and baggage the current context of each request, and the current
  context goes into every outbound call: common/http.py injects it into the calls between services, the requests
  instrumentation into the traffic generator's (the API's no-op tracer passes its parent's span context on). A
  request that arrived with a traceparent hands the same trace id, parent span id and sampled flag to the
  services it calls, so a service further on that does trace joins the caller's trace.

Under gunicorn the app is preloaded: create_app runs in the master, before the workers fork. The exporter's
thread must not start in a process that then forks, so the whole set-up runs in each worker after its fork
(musicstore.common.background, from gunicorn's `post_fork` hook, as OpenTelemetry's own documentation advises
for gunicorn); outside gunicorn it runs at once, in create_app.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask
from opentelemetry import baggage, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context, attach, detach
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, format_trace_id
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from musicstore.common import background
from musicstore.common.access_log import redact

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from opentelemetry.sdk.trace import TracerProvider

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
logger = logging.getLogger(__name__)
SYNTHETIC = ("synthetic_request", "true")  # the baggage entry of the traffic generator's requests
# Probes and scrapes: no spans (a regular expression each, searched in the URL; OpenTelemetry's own format).
UNTRACED_URLS = r"/healthz(\?|$),/readyz(\?|$),/metrics(\?|$),/static/"
URL_ATTRIBUTES = ("http.target", "http.url", "url.path", "url.full")


@dataclass(frozen=True)
class _Process:
    """What this process set up: its service, and the SDK's provider when it traces."""

    service: str
    provider: TracerProvider | None


_process: _Process | None = None
_lock = threading.Lock()


def tracing_enabled(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """True when spans are to be recorded and exported: an OTLP endpoint is set and the SDK is not disabled."""
    disabled = environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    endpoint = environ.get(ENDPOINT_VARIABLE, "").strip()
    if endpoint and not endpoint.lower().startswith(("http://", "https://")):
        # e.g. a Compose file's "${...}" left unsubstituted: exporting to it would fail every few seconds.
        logger.warning("%s=%r is not an http(s) URL: traces are not exported", ENDPOINT_VARIABLE, endpoint)
        return False
    return bool(endpoint) and not disabled


def init_process(service: str) -> _Process:
    """Set up this process once: W3C propagation, the requests instrumentation, and the SDK if tracing is on."""
    global _process
    with _lock:
        if _process is None:
            propagate.set_global_textmap(CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()]))
            provider = _sdk_provider(service) if tracing_enabled() else None
            # No dependency check: it reads every installed distribution's metadata (1-3 MB kept in each serving
            # process), and the lock file already pins requests to a version the instrumentation supports.
            RequestsInstrumentor().instrument(
                tracer_provider=provider,
                excluded_urls=UNTRACED_URLS,
                response_hook=_redact_client_span,
                skip_dep_check=True,
            )
            if provider is not None:
                _instrument_urllib3(provider)
            _process = _Process(service, provider)
        return _process


def init_tracing(app: Flask, service: str) -> None:
    """Trace a service's app (call it last in create_app: it needs the app's database), or only propagate;
    in each serving process, after the fork under gunicorn."""
    background.in_each_process("tracing", lambda: _init_app(app, service))


def _init_app(app: Flask, service: str) -> None:
    provider = init_process(service).provider
    if provider is None:
        app.wsgi_app = _Propagation(app.wsgi_app)  # type: ignore[method-assign]
    else:
        _instrument(app, provider)


def current_trace_id() -> str:
    """The current span's trace id in hex, or "-" outside any trace."""
    span_context = trace.get_current_span().get_span_context()
    return format_trace_id(span_context.trace_id) if span_context.is_valid else "-"


def outgoing_headers() -> dict[str, str]:
    """The W3C headers (traceparent, baggage) that carry the current context to another service."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def journey(name: str) -> Iterator[None]:
    """A simulated user's journey as a trace of its own, with the synthetic baggage; for the traffic generator.

    Tracing on, it is a span that the journey's requests are children of. Tracing off, it is a new trace id and
    span id that nobody records, marked sampled: a service that traces records what the journey made it do.
    """
    provider = init_process("traffic").provider
    context = baggage.set_baggage(*SYNTHETIC, context=Context())  # a new trace, never a child of another
    if provider is not None:
        span: trace.Span = provider.get_tracer(__name__).start_span(name, context, kind=SpanKind.INTERNAL)
    else:
        span = NonRecordingSpan(SpanContext(_random_id(128), _random_id(64), False, TraceFlags(TraceFlags.SAMPLED)))
    token = attach(trace.set_span_in_context(span, context))
    try:
        yield
    finally:
        detach(token)
        span.end()


def _random_id(bits: int) -> int:
    """A random trace or span id (never 0, which W3C reserves for "invalid")."""
    return secrets.randbits(bits) or 1


# Tracing off ---------------------------------------------------------------------------------------------------


class _EnvironGetter(Getter["WSGIEnvironment"]):
    """Reads W3C headers from a WSGI environ."""

    def get(self, carrier: WSGIEnvironment, key: str) -> list[str] | None:
        value = carrier.get("HTTP_" + key.upper().replace("-", "_"))
        return [value] if isinstance(value, str) else None

    def keys(self, carrier: WSGIEnvironment) -> list[str]:
        return [key[5:].lower().replace("_", "-") for key in carrier if key.startswith("HTTP_")]


_ENVIRON = _EnvironGetter()


class _Propagation:
    """WSGI middleware of tracing off: the caller's traceparent and baggage are the request's current context."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        token = attach(propagate.extract(environ, getter=_ENVIRON))
        try:
            return self.app(environ, start_response)
        finally:
            detach(token)


# Tracing on ----------------------------------------------------------------------------------------------------


def _sdk_provider(service: str) -> TracerProvider:
    """The SDK's provider for this process, exporting in batches over OTLP/HTTP from one background thread."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": f"musicstore-{service}", "service.namespace": "musicstore"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def _instrument_urllib3(provider: TracerProvider) -> None:
    """Client spans for the calls between services (common/http.py calls through urllib3's pool).

    Tracing off, the client injects the context itself (the API's no-op tracer would only cost time here); a
    call made through requests (the traffic generator's) gets one span, the requests instrumentation's, which
    holds urllib3's back.
    """
    from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor

    URLLib3Instrumentor().instrument(
        tracer_provider=provider,
        excluded_urls=UNTRACED_URLS,
        response_hook=_redact_client_span,
        skip_dep_check=True,
    )


def _instrument(app: Flask, provider: TracerProvider) -> None:
    """Spans for the app's requests (made before any other hook runs) and for its database's queries."""
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    FlaskInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=UNTRACED_URLS,
        enable_commenter=False,
        response_hook=_redact_server_span,
    )
    # First among the before_request hooks, so an answer that an earlier hook gives (a 429 of the rate limiter,
    # an injected fault) is in the request's span, and every log line of the request carries its trace id.
    hooks = app.before_request_funcs.setdefault(None, [])
    start_span = getattr(app, "_before_request", None)
    if start_span in hooks:
        hooks.insert(0, hooks.pop(hooks.index(start_span)))
    database = app.extensions.get("database")
    instrumentor = SQLAlchemyInstrumentor()
    if database is not None and not instrumentor.is_instrumented_by_opentelemetry:
        # The instrumentation declares SQLAlchemy < 2.1 but works with 2.1 (its events are unchanged), as
        # tests/tracing/test_checkout_trace.py shows: its check of versions is skipped.
        instrumentor.instrument(
            engine=database.engine, tracer_provider=_ChildSpansOnly(provider), enable_commenter=False,
            skip_dep_check=True,
        )  # fmt: skip


class _ChildSpansOnly(trace.TracerProvider):
    """A provider whose tracers start a span only inside another one (a query outside any request: none)."""

    def __init__(self, provider: trace.TracerProvider) -> None:
        self.provider = provider

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _ChildSpanTracer(self.provider.get_tracer(*args, **kwargs))


class _ChildSpanTracer(trace.Tracer):
    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer

    def start_span(self, name: str, context: Context | None = None, *args: Any, **kwargs: Any) -> trace.Span:
        if not trace.get_current_span(context).get_span_context().is_valid:
            return trace.INVALID_SPAN
        return self.tracer.start_span(name, context, *args, **kwargs)

    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self, name: str, context: Context | None = None, *args: Any, **kwargs: Any
    ) -> Iterator[trace.Span]:
        if not trace.get_current_span(context).get_span_context().is_valid:
            yield trace.INVALID_SPAN
            return
        with self.tracer.start_as_current_span(name, context, *args, **kwargs) as span:
            yield span


def _redact_server_span(span: trace.Span, _status: str, _headers: Sequence[tuple[str, str]]) -> None:
    """No order's tracking token in a span: its URL attributes are redacted as the access log is."""
    _redact(span)


def _redact_client_span(span: trace.Span, _request: Any, _response: Any) -> None:
    _redact(span)


def _redact(span: trace.Span) -> None:
    attributes = getattr(span, "attributes", None)  # the SDK's span has them; a no-op span has none
    if not span.is_recording() or not attributes:
        return
    for key in URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str) and redact(value) != value:
            span.set_attribute(key, redact(value))
