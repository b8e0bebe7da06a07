"""The service map built from the services' /metrics texts: nodes, edges, counts, rates, error ratios, p95.

Every text here is in the metrics contract's format (tests/servicemap/exposition.py writes it with
prometheus-client; fixtures/cart-two-workers.txt was recorded in its multiprocess mode).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from musicstore.common.calls import service_edges
from musicstore.traffic.service_map import ServiceMap, histogram_quantile, parse
from tests.servicemap.exposition import Queried, Sent, Served, metrics_text

FIXTURES = Path(__file__).with_name("fixtures")
EDGE_KEYS = {"from", "to", "requests", "rate", "error_ratio", "p95_ms", "declared"}


def edge(body: dict[str, Any], source: str, target: str) -> dict[str, Any]:
    """The one edge from source to target in a map's JSON."""
    found = [e for e in body["edges"] if (e["from"], e["to"]) == (source, target)]
    assert len(found) == 1, (source, target, body["edges"])
    return found[0]


def pairs(body: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["from"], e["to"]) for e in body["edges"]}


def nodes(body: dict[str, Any]) -> dict[str, bool]:
    return {n["id"]: n["up"] for n in body["nodes"]}


def shop(store: str | None, cart: str | None, orders: str | None) -> dict[str, dict[str, str | None]]:
    """One pod per service, with its /metrics text (None: it did not answer)."""
    return {"store": {"store-0": store}, "cart": {"cart-0": cart}, "orders": {"orders-0": orders}}


def a_map() -> ServiceMap:
    return ServiceMap(window=10, interval=5)


# One purchase through the cart, seen from each of the three services.
STORE = metrics_text(
    Served("cart", times=4, endpoint="/api/albums"),  # the cart's four calls, as the store served them
    Served("traffic", times=3, endpoint="/api/album/<int:album_id>"),
    Queried("postgres", times=7),
)
CART = metrics_text(
    Served("browser", times=2, endpoint="/add_to_cart", method="POST"),
    Sent("store", times=4),
    Sent("orders", times=1, status="201", route="/api/orders", method="POST", seconds=0.05),
    Queried("cart-db", times=12),
)
ORDERS = metrics_text(
    Served("cart", times=1, status="201", endpoint="/api/orders", method="POST"),
    Queried("orders-db", times=3),
)


def test_a_purchase_s_calls_are_the_edges_each_declared_in_the_call_matrix() -> None:
    service_map = a_map()
    service_map.record(shop(STORE, CART, ORDERS), at=0)
    body = service_map.as_json()
    assert pairs(body) == {
        ("browser", "cart"), ("traffic", "store"), ("cart", "store"), ("cart", "orders"),
        ("store", "postgres"), ("cart", "cart-db"), ("orders", "orders-db"),
    }  # fmt: skip
    assert all(e["declared"] for e in body["edges"])
    assert all(set(e) == EDGE_KEYS for e in body["edges"])
    assert [(e["from"], e["to"]) for e in body["edges"]] == sorted(pairs(body))
    assert nodes(body) == {
        "browser": True, "traffic": True, "store": True, "cart": True, "orders": True,
        "postgres": True, "cart-db": True, "orders-db": True,
    }  # fmt: skip
    assert all(set(n) == {"id", "up"} for n in body["nodes"])
    assert edge(body, "browser", "cart")["requests"] == 2
    assert edge(body, "store", "postgres")["requests"] == 7
    assert edge(body, "orders", "orders-db")["requests"] == 3


def test_an_edge_both_sides_count_is_counted_once_from_the_caller_s_outbound_metrics() -> None:
    store = metrics_text(Served("cart", times=5))  # one more than the cart sent: a call that bypassed its client
    service_map = a_map()
    service_map.record(shop(store, metrics_text(Sent("store", times=4)), None), at=0)
    assert edge(service_map.as_json(), "cart", "store")["requests"] == 4


def test_an_edge_only_the_callee_saw_comes_from_its_caller_label() -> None:
    orders = metrics_text(Served("store", times=2, endpoint="/api/orders"), Served("other", times=1))
    service_map = a_map()
    service_map.record(shop(metrics_text(), metrics_text(), orders), at=0)
    body = service_map.as_json()
    found = edge(body, "store", "orders")
    assert found["p95_ms"] == pytest.approx(24.25, abs=0.05)  # 0.95 of the way through (10 ms, 25 ms]
    assert {k: v for k, v in found.items() if k != "p95_ms"} == {
        "from": "store", "to": "orders", "requests": 2, "rate": 0.0, "error_ratio": 0.0, "declared": False,
    }  # fmt: skip
    assert edge(body, "other", "orders")["declared"] is False
    assert nodes(body)["other"] is True


def test_an_undeclared_edge_is_one_outside_common_calls_service_edges() -> None:
    assert ("store", "orders") not in service_edges() and ("cart", "store") in service_edges()
    declared = {("browser", s) for s in ("store", "cart", "orders")} | {("cart", "cart-db"), ("orders", "orders-db")}
    assert declared <= service_edges()
    service_map = ServiceMap(window=10, interval=5, declared=frozenset({("cart", "store")}))
    service_map.record(shop(metrics_text(Served("cart"), Served("browser")), None, None), at=0)
    body = service_map.as_json()
    assert edge(body, "cart", "store")["declared"] and not edge(body, "browser", "store")["declared"]


def test_a_service_that_is_down_is_shown_down_and_its_callees_still_show_its_calls() -> None:
    service_map = a_map()
    service_map.record(shop(STORE, None, ORDERS), at=0)
    body = service_map.as_json()
    assert nodes(body)["cart"] is False and nodes(body)["store"] is True
    assert edge(body, "cart", "store")["requests"] == 4  # from the store's caller label
    assert edge(body, "cart", "orders")["requests"] == 1
    assert ("browser", "cart") not in pairs(body) and "cart-db" not in nodes(body)


def test_before_the_first_scrape_every_service_is_down_and_there_are_no_edges() -> None:
    body = a_map().as_json()
    assert nodes(body) == {"browser": True, "traffic": True, "store": False, "cart": False, "orders": False}
    assert body["edges"] == []


def test_every_replica_is_counted_and_their_counts_and_rates_are_summed() -> None:
    service_map = a_map()
    first = {"store-a": metrics_text(Served("traffic", times=10)), "store-b": metrics_text(Served("traffic", times=6))}
    service_map.record({"store": first}, at=0)
    second = {
        "store-a": metrics_text(Served("traffic", times=20)),
        "store-b": metrics_text(Served("traffic", times=11)),
    }
    service_map.record({"store": second}, at=5)
    found = edge(service_map.as_json(), "traffic", "store")
    assert found["requests"] == 31
    assert found["rate"] == pytest.approx((10 + 5) / 5)


def test_a_replica_that_is_down_leaves_the_service_up_with_the_others_counts() -> None:
    service_map = a_map()
    service_map.record({"store": {"store-a": metrics_text(Served("traffic", times=3)), "store-b": None}}, at=0)
    body = service_map.as_json()
    assert nodes(body)["store"] is True and edge(body, "traffic", "store")["requests"] == 3


def test_the_rate_is_per_second_over_the_window_and_zero_after_a_single_scrape() -> None:
    service_map = ServiceMap(window=10, interval=5)
    counts = [4, 9, 19, 20]
    for n, count in enumerate(counts):
        service_map.record({"store": {"store-0": metrics_text(Served("traffic", times=count))}}, at=5 * n)
        rate = edge(service_map.as_json(), "traffic", "store")["rate"]
        expected = 0.0 if n == 0 else (count - counts[max(0, n - 2)]) / (5 * min(n, 2))
        assert rate == pytest.approx(expected), n


def test_a_replica_that_restarted_counts_from_zero_again_instead_of_going_negative() -> None:
    service_map = a_map()
    service_map.record({"store": {"store-0": metrics_text(Served("traffic", times=50))}}, at=0)
    service_map.record({"store": {"store-0": metrics_text(Served("traffic", times=5))}}, at=5)
    found = edge(service_map.as_json(), "traffic", "store")
    assert found["requests"] == 5 and found["rate"] == pytest.approx(1.0)


def test_the_error_ratio_is_the_share_of_5xx_timeouts_and_errors() -> None:
    cart = metrics_text(
        Sent("store", times=6), Sent("store", status="404"), Sent("store", status="503"),
        Sent("store", status="timeout"), Sent("store", status="error"),
    )  # fmt: skip
    store = metrics_text(Served("traffic", times=3), Served("traffic", status="500"), Served("traffic", status="409"))
    service_map = a_map()
    service_map.record(shop(store, cart, None), at=0)
    body = service_map.as_json()
    assert edge(body, "cart", "store")["error_ratio"] == pytest.approx(0.3)
    assert edge(body, "traffic", "store")["error_ratio"] == pytest.approx(0.2)


def test_error_ratio_and_p95_are_of_the_recent_window_once_it_has_calls() -> None:
    service_map = a_map()
    service_map.record({"store": {"s": metrics_text(Served("traffic", times=100, seconds=0.007))}}, at=0)
    assert edge(service_map.as_json(), "traffic", "store")["p95_ms"] == pytest.approx(9.75, abs=0.05)  # since start
    slow = metrics_text(Served("traffic", times=100, seconds=0.007), Served("traffic", times=10, seconds=0.3),
                        Served("traffic", times=10, status="503", seconds=0.3))  # fmt: skip
    service_map.record({"store": {"s": slow}}, at=5)
    found = edge(service_map.as_json(), "traffic", "store")
    assert found["p95_ms"] == pytest.approx(487.5, abs=0.05)  # the window's 20 calls, all in (0.25, 0.5]
    assert found["error_ratio"] == pytest.approx(0.5)
    assert found["requests"] == 120


def test_p95_interpolates_within_the_bucket_like_prometheus_histogram_quantile() -> None:
    buckets = {0.005: 0.0, 0.01: 50.0, 0.025: 100.0, float("inf"): 100.0}
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.0235)
    assert histogram_quantile(0.5, {0.1: 10.0, float("inf"): 10.0}) == pytest.approx(0.05)  # from 0 in the first
    assert histogram_quantile(0.95, {0.1: 0.0, 10.0: 0.0, float("inf"): 4.0}) == 10.0  # above the last: its bound
    assert histogram_quantile(0.95, {0.1: 0.0, float("inf"): 0.0}) is None


def test_database_edges_come_from_db_client_metrics_and_a_database_whose_queries_all_fail_is_down() -> None:
    service_map = a_map()
    service_map.record(shop(metrics_text(Queried("postgres", times=10)), None, None), at=0)
    failing = metrics_text(Queried("postgres", times=10), Queried("postgres", times=4, outcome="error"))
    service_map.record(shop(failing, None, None), at=5)
    body = service_map.as_json()
    assert nodes(body)["postgres"] is False
    found = edge(body, "store", "postgres")
    assert found["requests"] == 14 and found["error_ratio"] == 1.0 and found["declared"] is True


def test_health_checks_and_scrapes_are_the_platform_looking_not_calls_between_services() -> None:
    """Probes and Prometheus (caller "other"), this map's own scrapes, and a readiness check's pings of the
    services it reports on: on neither side are they edges."""
    store = metrics_text(
        Served("other", endpoint="/healthz", times=9), Served("other", endpoint="/readyz", times=9),
        Served("traffic", endpoint="/metrics", times=9), Served("traffic", endpoint="/api/stats"),
    )  # fmt: skip
    cart = metrics_text(Sent("store", route="/healthz", times=9), Sent("orders", route="/healthz", times=9))
    service_map = a_map()
    service_map.record(shop(store, cart, None), at=0)
    body = service_map.as_json()
    assert pairs(body) == {("traffic", "store")} and edge(body, "traffic", "store")["requests"] == 1


def test_a_multiprocess_scrape_gives_every_worker_s_totals() -> None:
    counts = parse("cart", (FIXTURES / "cart-two-workers.txt").read_text())
    assert counts[("out", "cart", "store")].requests == 12
    assert counts[("out", "cart", "orders")].requests == 2 and counts[("out", "cart", "orders")].errors == 1
    assert counts[("in", "browser", "cart")].requests == 4
    assert counts[("in", "traffic", "cart")].requests == 2
    assert counts[("db", "cart", "cart-db")].requests == 18
    assert counts[("out", "cart", "store")].buckets[0.01] == 10  # the reservations took 20 ms
    assert ("in", "other", "cart") not in counts  # /healthz


def test_labels_outside_the_contract_are_not_nodes() -> None:
    text = metrics_text(Served("robot"), Sent("bank"), Queried("redis"), Served("cart"))
    counts = parse("store", text)
    assert set(counts) == {("in", "other", "store"), ("in", "cart", "store")}
