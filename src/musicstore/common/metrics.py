"""Prometheus metrics per service: requests, calls to other services and to the database, business counters.

Names and labels are a contract: the traffic generator's service map draws its nodes and edges from them.

- http_requests_total{method, endpoint, status, caller, synthetic} and
  http_request_duration_seconds{method, endpoint, caller}: requests served. `endpoint` is the route rule
  ("unmatched" when none), `caller` who sent it (caller_label), `synthetic` "true" when its baggage says so.
- http_client_requests_total{peer, method, route, status} and http_client_request_duration_seconds{peer, route}:
  calls this service made through musicstore.common.http.ServiceClient (observe_call).
- db_client_queries_total{db, outcome} and db_client_query_duration_seconds{db}: statements run on its database
  (musicstore.common.db.count_queries).
- faults_injected_total{flag}: the fault switches call count_fault(flag) for each fault they inject.
- business counters a service registers with Metrics.counter: orders_created_total, payments_declined_total,
  stock_reservations_refused_total, stock_returned_total, stock_return_deliveries_total{outcome}.

Several gunicorn workers count together through prometheus-client's multiprocess mode: when
PROMETHEUS_MULTIPROC_DIR is set (by `musicstore serve` and `up`, before gunicorn starts: the library reads it
when it is imported), every worker writes its values to its own files there and /metrics adds up all of them,
so whichever worker answers gives the same totals. Without it (an app under a test client) each app counts on
its own registry.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

from musicstore.common.metric_files import MULTIPROC_DIR

# Label values come from a fixed set: a method any client may invent, or a path nothing routes, would otherwise
# add a time series per request and grow /metrics (and the worker's memory) without bound.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
UNMATCHED = "unmatched"
# Who called: one of our services (by its User-Agent, musicstore-<service>), a browser, or anything else.
SERVICE_CALLERS = frozenset({"store", "cart", "orders", "traffic"})
BROWSER = "browser"
OTHER_CALLER = "other"
_SERVICE_AGENT = re.compile(r"musicstore-([a-z]*)")
SYNTHETIC_KEY = "synthetic_request"


class _ThisProcess:
    """This process's id, kept, and made again in a forked child (os.register_at_fork)."""

    pid = os.getpid()


def _remember_pid() -> None:
    _ThisProcess.pid = os.getpid()


def process_id() -> int:
    """This process's id without a system call: in multiprocess mode prometheus-client asks for it before every
    count (to notice a fork), four or five times per request, and os.getpid() asks the kernel each time (a twentieth
    of a /healthz answer's time in process)."""
    return _ThisProcess.pid


os.register_at_fork(after_in_child=_remember_pid)
if values.ValueClass is not values.MutexValue:  # multiprocess mode, chosen when prometheus-client was imported
    # This module is imported before any metric is made (every metric of ours is made through it, and no library we
    # load makes one at import): a value made earlier would keep the old class and open the same file again.
    values.ValueClass = values.MultiProcessValue(process_id)

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


def method_label(method: str) -> str:
    """The method as a label value: a standard one by name, any other as "other"."""
    return method if method in KNOWN_METHODS else OTHER_METHOD


def caller_label(user_agent: str) -> str:
    """Who sent a request, from its User-Agent: a service of ours, "browser" or "other".

    A browser says "Mozilla", the traffic generator's headless Chromium too (its User-Agent also names
    musicstore-traffic): what reaches the pages through a browser is a browser's call.
    """
    if "Mozilla" in user_agent:
        return BROWSER
    found = _SERVICE_AGENT.match(user_agent)
    if found and found.group(1) in SERVICE_CALLERS:
        return found.group(1)
    return OTHER_CALLER


def synthetic_label(baggage_headers: Iterable[str]) -> str:
    """ "true" when the W3C baggage carries synthetic_request=true (the traffic generator's requests), else "false".

    Baggage is a comma-separated list of key=value members, each optionally followed by ;properties; values are
    percent-encoded, and a request may carry several baggage headers.
    """
    for member in ",".join(baggage_headers).split(","):
        key, sep, value = member.split(";", 1)[0].partition("=")
        if sep and key.strip() == SYNTHETIC_KEY and unquote(value.strip()) == "true":
            return "true"
    return "false"


class Metrics:
    """The metrics of one app, on a registry of its own."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests served",
            ["method", "endpoint", "status", "caller", "synthetic"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time to serve an HTTP request",
            ["method", "endpoint", "caller"],
            registry=self.registry,
            buckets=HTTP_BUCKETS,
        )
        self.client_requests = Counter(
            "http_client_requests_total",
            "Calls this service made to another, by the called service, route template and status",
            ["peer", "method", "route", "status"],
            registry=self.registry,
        )
        self.client_latency = Histogram(
            "http_client_request_duration_seconds",
            "Time a call to another service took, by the called service and route template",
            ["peer", "route"],
            registry=self.registry,
            buckets=HTTP_BUCKETS,
        )
        self.db_queries = Counter(
            "db_client_queries_total",
            "Statements this service ran on its database, by database (postgres, cart-db, orders-db) and outcome",
            ["db", "outcome"],
            registry=self.registry,
        )
        self.db_latency = Histogram(
            "db_client_query_duration_seconds",
            "Time a statement on the database took",
            ["db"],
            registry=self.registry,
            buckets=DB_BUCKETS,
        )
        self._counters: dict[str, tuple[tuple[str, ...], Counter]] = {}
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}
        self.faults = self.counter("faults_injected_total", "Faults injected, by flag", ("flag",))

    def counter(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Counter:
        """A business counter on this app's registry; the same name again gives the same counter."""
        if name in self._counters:
            known, counter = self._counters[name]
            if known != labels:
                raise ValueError(f"{name} is registered with the labels {known}, not {labels}")
            return counter
        counter = Counter(name, documentation, list(labels), registry=self.registry)
        self._counters[name] = (labels, counter)
        return counter

    def observe_call(self, peer: str, method: str, route: str, status: str, seconds: float) -> None:
        """One call to another service: `route` a template ("/api/album/{id}"); `status` a code, "timeout", "error"."""
        self.client_requests.labels(peer, method_label(method), route, status).inc()
        self.client_latency.labels(peer, route).observe(seconds)

    def exposition(self) -> str:
        """This service's metrics in Prometheus' text format, as /metrics serves them: every worker's, in sum."""
        directory = os.environ.get(MULTIPROC_DIR)
        if not directory:
            return generate_latest(self.registry).decode()
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)
        return generate_latest(registry).decode()

    def init_app(self, app: Flask) -> None:
        """Time every request and serve /metrics."""
        app.extensions["metrics"] = self
        app.before_request(_start_timer)
        app.after_request(self._observe)
        app.add_url_rule("/metrics", "metrics", _serve_metrics)

    def _observe(self, response: Response) -> Response:
        served = request._get_current_object()  # type: ignore[attr-defined]  # one context lookup, not six
        endpoint = served.url_rule.rule if served.url_rule else UNMATCHED
        method = method_label(served.method)
        environ = served.environ  # a header straight from the environ: Headers.getlist walks every entry of it
        caller = caller_label(environ.get("HTTP_USER_AGENT", ""))
        baggage = environ.get("HTTP_BAGGAGE")  # repeated baggage headers arrive joined with commas (WSGI)
        synthetic = synthetic_label((baggage,) if baggage else ())
        started = g.get("request_started")
        if started is not None:
            self._series(self.latency, method, endpoint, caller).observe(time.perf_counter() - started)
        self._series(self.requests, method, endpoint, str(response.status_code), caller, synthetic).inc()
        return response

    def _series(self, metric: Any, *values: str) -> Any:
        """The metric's child for these label values, kept (their set is bounded: see the label functions):
        prometheus-client's labels() checks and locks on every call."""
        key = (metric, values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _serve_metrics() -> Response:
    """Prometheus exposition of this service's metrics."""
    metrics: Metrics = current_app.extensions["metrics"]
    return Response(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)


def count_fault(flag: str, app: Flask | None = None) -> None:
    """One fault injected by a fault switch: faults_injected_total{flag} on the app's (by default the current
    app's) metrics. `flag` is the switch's name, one of a fixed set (musicstore.common.flags)."""
    get_metrics(app or current_app).faults.labels(flag).inc()


def get_metrics(app: Flask) -> Metrics:
    """The Metrics bound to an app."""
    metrics: Metrics = app.extensions["metrics"]
    return metrics
