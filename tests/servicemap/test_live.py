"""The service map against the three services really running, and the traffic generator's UI (production mode,
the admin's credentials) mapping them: one purchase draws its edges, all declared, with the counts of what was
done; a call outside the call matrix made on purpose is drawn undeclared.

The stack is this module's own (no other test's calls land in the counts): the store on the embedded
PostgreSQL, orders and cart on SQLite, the generator scraping every half second.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

import musicstore.cart
import musicstore.orders
import musicstore.store
from musicstore.cart.settings import CartSettings
from musicstore.common.embedded_pg import EmbeddedPostgres, free_port
from musicstore.common.migrate import upgrade
from musicstore.orders.settings import OrderSettings
from tests.conftest import new_database
from tests.e2e.conftest import ADMIN_PASSWORD, SERVICE, SERVICE_TOKEN, Shopper, Stack
from tests.support.live import stack_layout, three_services
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36"
PURCHASE = {
    ("browser", "cart"), ("cart", "store"), ("cart", "orders"),
    ("store", "postgres"), ("cart", "cart-db"), ("orders", "orders-db"),
}  # fmt: skip


@dataclass
class Mapped:
    """The running stack, and the generator's UI mapping it."""

    stack: Stack
    ui: str

    def map(self) -> dict[str, Any]:
        """GET /service-map.json, with the admin's credentials (the UI takes them outside local mode)."""
        answer = requests.get(f"{self.ui}/service-map.json", auth=("admin", ADMIN_PASSWORD), timeout=5)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def counts(self) -> dict[tuple[str, str], int]:
        """Each edge's requests."""
        return {(e["from"], e["to"]): e["requests"] for e in self.map()["edges"]}


@pytest.fixture(scope="module")
def mapped(pg_server: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mapped]:
    """Store, orders and cart running, and `musicstore traffic` with its web UI mapping them."""
    root = tmp_path_factory.mktemp("service-map-live")
    layout = stack_layout(root, admin_password=ADMIN_PASSWORD, service_token=SERVICE_TOKEN)
    data_dir, ports, env = layout.data_dir, layout.ports, layout.env
    store_url = new_database(pg_server, f"service_map_{ports['store']}")
    upgrade(musicstore.store.MIGRATIONS, store_url)
    musicstore.orders.prepare(OrderSettings(DATA_DIR=data_dir))
    musicstore.cart.prepare(CartSettings(DATA_DIR=data_dir))
    envs = {"store": {**env, "DATABASE_URL": store_url}, "orders": env, "cart": {**env, "HTTP_TIMEOUT": "10"}}
    with three_services(root, ports, envs) as services:
        ui_port = free_port()
        traffic_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TRAFFIC_", "LOCUST_"))},
            **env,
            "TRAFFIC_MAP_INTERVAL": "0.5",
            "TRAFFIC_MAP_WINDOW": "1",
            "TMPDIR": str(root),
        }
        log = root / "traffic.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "musicstore.cli", "traffic", "--web-host", "127.0.0.1",
                 "--web-port", str(ui_port)],
                env=traffic_env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        stack = Stack(store=services["store"], orders=services["orders"], cart=services["cart"], logs=root)
        running = Mapped(stack, f"http://127.0.0.1:{ui_port}")
        try:
            eventually(lambda: every_service_up(running, process, log), timeout=60, interval=0.2)
            yield running
        finally:
            process.terminate()
            process.wait(30)


def every_service_up(mapped: Mapped, process: subprocess.Popen[bytes], log: Path) -> None:
    assert process.poll() is None, log.read_text()[-3000:]
    try:
        nodes = {n["id"]: n["up"] for n in mapped.map()["nodes"]}
    except requests.ConnectionError as exc:
        raise AssertionError(str(exc)) from None
    assert all(nodes[s] for s in ("store", "cart", "orders")), nodes


def grown(before: dict[tuple[str, str], int], after: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    """How many requests each edge gained."""
    return {edge: count - before.get(edge, 0) for edge, count in after.items() if count != before.get(edge, 0)}


def test_one_purchase_draws_its_edges_all_declared_with_the_counts_of_what_was_done(mapped: Mapped) -> None:
    album = mapped.stack.add_album(price="9.99", stock=3)  # the admin's call (python-requests: "other")
    eventually(lambda: assert_counted(mapped, ("other", "store"), 1), timeout=20)
    before = mapped.counts()
    assert not {("browser", "cart"), ("cart", "store"), ("cart", "orders")} & set(before)  # no shopper yet

    shopper = Shopper(mapped.stack.cart.url)
    shopper.http.headers["User-Agent"] = BROWSER  # the cart counts a browser by its User-Agent
    assert shopper.add(album["id"]).status_code == 200
    paid = shopper.pay()
    assert paid.status_code == 201, paid.text

    # What the purchase did: two requests of the browser to the cart; the cart asked the store twice (the album
    # with the cart's lines when added, in one call that also priced its answer; the reservation, which prices
    # the checkout) and the order service once (the order); each of them read and wrote its own database.
    exact = {("browser", "cart"): 2, ("cart", "store"): 2, ("cart", "orders"): 1}

    def purchase_mapped() -> None:
        gained = grown(before, mapped.counts())
        assert {edge: gained.get(edge, 0) for edge in exact} == exact, gained
        # The store: at least the album's read and the reservation's one statement per line.
        assert gained.get(("store", "postgres"), 0) >= 2 and gained.get(("cart", "cart-db"), 0) >= 1
        assert gained.get(("orders", "orders-db"), 0) >= 1
        assert set(gained) <= PURCHASE, gained  # and nothing else called anything

    eventually(purchase_mapped, timeout=20)
    body = mapped.map()
    edges = {(e["from"], e["to"]): e for e in body["edges"]}
    assert set(edges) >= PURCHASE
    assert all(edges[edge]["declared"] for edge in PURCHASE)
    assert all(edges[edge]["p95_ms"] > 0 and edges[edge]["error_ratio"] == 0.0 for edge in PURCHASE)
    assert edges[("other", "store")]["declared"] is False
    assert {n["id"]: n["up"] for n in body["nodes"]} == {
        "browser": True, "traffic": True, "other": True, "store": True, "cart": True, "orders": True,
        "postgres": True, "cart-db": True, "orders-db": True,
    }  # fmt: skip


def test_a_call_outside_the_call_matrix_is_drawn_undeclared(mapped: Mapped) -> None:
    assert ("store", "orders") not in mapped.counts()
    impostor = {**SERVICE, "User-Agent": "musicstore-store"}  # the store never calls the order service
    answer = requests.get(f"{mapped.stack.orders.url}/api/orders", params={"per_page": 1}, headers=impostor, timeout=5)
    assert answer.status_code == 200

    def drawn_undeclared() -> None:
        edge = {(e["from"], e["to"]): e for e in mapped.map()["edges"]}.get(("store", "orders"))
        assert edge is not None and edge["requests"] == 1 and edge["declared"] is False, edge

    eventually(drawn_undeclared, timeout=20)


def assert_counted(mapped: Mapped, edge: tuple[str, str], at_least: int) -> None:
    assert mapped.counts().get(edge, 0) >= at_least
