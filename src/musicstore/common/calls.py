"""The call matrix: every call one component of the shop may make to another, in one machine-readable place.

DESIGN.md ("Services and who calls whom") in data: the service map marks a live edge declared or undeclared
against it, and the network-policy test proves that the Kubernetes policies allow exactly these edges, in both
directions, and nothing else but DNS. `scope` says when an edge exists: always, only where cart and orders run on
PostgreSQL (the scaled overlay, Compose), or with an optional kustomize component.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["always", "postgres-carts", "prometheus", "otel-collector"]

# Where each component listens (its container port).
PORTS = {
    "store": 5000,
    "orders": 5001,
    "cart": 5002,
    "traffic": 5004,
    "traffic-master": 5557,
    "postgres": 5432,
    "otel-collector": 4318,
}
# Callers that live outside the shop's namespace (they reach it, the shop never calls them).
EXTERNAL = frozenset({"ingress", "prometheus"})


@dataclass(frozen=True)
class Call:
    """One allowed call: `source` opens a connection to `target` on `port`, for `purpose`."""

    source: str
    target: str
    port: int
    purpose: str
    scope: Scope = "always"


def _http(source: str, target: str, purpose: str, scope: Scope = "always") -> Call:
    return Call(source, target, PORTS[target], purpose, scope)


CALLS: tuple[Call, ...] = (
    # The services (DESIGN.md's table).
    _http("cart", "store", "prices and stock (GET /api/albums?ids=, /api/album/{id}); POST /api/stock/reserve|release"),
    _http("cart", "orders", "POST /api/orders; GET /api/orders?idempotency_key="),
    _http("orders", "store", "POST /api/stock/return when an order is cancelled; album details"),
    _http("store", "postgres", "the catalog, stock and reservations"),
    # The traffic generator: pages and APIs, its browsers, order verification, /metrics for the service map.
    *(
        _http(generator, target, "simulated shoppers and admins; verification; /metrics")
        for generator in ("traffic", "traffic-worker")
        for target in ("store", "cart", "orders")
    ),
    # What a deployment adds.
    Call("traffic-worker", "traffic", PORTS["traffic-master"], "Locust workers to their master"),
    Call("migrate", "postgres", PORTS["postgres"], "the migration Job"),
    _http("cart", "postgres", "carts, where the cart runs on PostgreSQL", "postgres-carts"),
    _http("orders", "postgres", "orders, where the order service runs on PostgreSQL", "postgres-carts"),
    Call("migrate", "postgres", PORTS["postgres"], "the migration Job, for cart and orders too", "postgres-carts"),
    *(
        _http("ingress", target, "browsers from outside, through the ingress controller")
        for target in ("store", "cart", "orders", "traffic")
    ),
    *(
        _http("prometheus", target, "scraping /metrics", "prometheus")
        for target in ("store", "cart", "orders", "traffic")
    ),
    *(
        _http(source, "otel-collector", "traces over OTLP/HTTP", "otel-collector")
        for source in ("store", "cart", "orders", "traffic", "traffic-worker")
    ),
)


def allowed(scopes: frozenset[str] = frozenset({"always"})) -> set[tuple[str, str, int]]:
    """The (source, target, port) edges allowed with the given scopes on."""
    return {(c.source, c.target, c.port) for c in CALLS if c.scope in scopes | {"always"}}


# Edges the service map draws that no network policy names: shoppers' browsers reach the pages (through the
# ingress in a cluster), and cart and orders keep their SQLite files beside them (`cart-db`, `orders-db`).
SEEN_ONLY: frozenset[tuple[str, str]] = frozenset(
    {("browser", "store"), ("browser", "cart"), ("browser", "orders"), ("cart", "cart-db"), ("orders", "orders-db")}
)


def service_edges() -> set[tuple[str, str]]:
    """The declared edges between the shop's own components, as the service map draws them (no ports)."""
    return {(c.source, c.target) for c in CALLS if c.scope in ("always", "postgres-carts")} | SEEN_ONLY
