"""/metrics text in the metrics contract's format, written by prometheus-client itself for a test's scenario.

The contract: incoming `http_requests_total{method, endpoint, status, caller, synthetic}` and
`http_request_duration_seconds{method, endpoint, caller}`; outgoing `http_client_requests_total{peer, method, route,
status}` and `http_client_request_duration_seconds{peer, route}`; `db_client_queries_total{db, outcome}` and
`db_client_query_duration_seconds{db}`. (fixtures/cart-two-workers.txt is the same, recorded in multiprocess mode.)
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(frozen=True)
class Served:
    """`times` requests a service served to `caller`, each taking `seconds`."""

    caller: str
    times: int = 1
    status: str = "200"
    seconds: float = 0.02
    endpoint: str = "/api/albums"
    method: str = "GET"


@dataclass(frozen=True)
class Sent:
    """`times` calls a service made to `peer`, each taking `seconds`; status a code, "timeout" or "error"."""

    peer: str
    times: int = 1
    status: str = "200"
    seconds: float = 0.01
    route: str = "/api/albums"
    method: str = "GET"


@dataclass(frozen=True)
class Queried:
    """`times` queries a service made to its database `db`."""

    db: str
    times: int = 1
    outcome: str = "ok"
    seconds: float = 0.002


def metrics_text(*calls: Served | Sent | Queried) -> str:
    """The /metrics a service answers after these calls (a fresh process: counts start at 0)."""
    registry = CollectorRegistry()
    served = Counter("http_requests_total", "served", ["method", "endpoint", "status", "caller", "synthetic"],
                     registry=registry)  # fmt: skip
    served_time = Histogram("http_request_duration_seconds", "serving time", ["method", "endpoint", "caller"],
                            registry=registry, buckets=BUCKETS)  # fmt: skip
    sent = Counter("http_client_requests_total", "sent", ["peer", "method", "route", "status"], registry=registry)
    sent_time = Histogram("http_client_request_duration_seconds", "call time", ["peer", "route"],
                          registry=registry, buckets=BUCKETS)  # fmt: skip
    queries = Counter("db_client_queries_total", "queries", ["db", "outcome"], registry=registry)
    query_time = Histogram("db_client_query_duration_seconds", "query time", ["db"], registry=registry,
                           buckets=BUCKETS)  # fmt: skip
    for call in calls:
        for _ in range(call.times):
            if isinstance(call, Served):
                served.labels(call.method, call.endpoint, call.status, call.caller, "false").inc()
                served_time.labels(call.method, call.endpoint, call.caller).observe(call.seconds)
            elif isinstance(call, Sent):
                sent.labels(call.peer, call.method, call.route, call.status).inc()
                sent_time.labels(call.peer, call.route).observe(call.seconds)
            else:
                queries.labels(call.db, call.outcome).inc()
                query_time.labels(call.db).observe(call.seconds)
    return generate_latest(registry).decode()
