"""Property-based fuzzing of each running service against its own /openapi.json (schemathesis).

The three services run for real (gunicorn on free loopback ports, the store on the embedded PostgreSQL with
a throwaway demo catalog). Schemathesis reads each service's document, sends examples, boundary and
invalid requests and random valid ones to every operation with the admin's credentials or the service
token as the document asks, and checks every answer: no 5xx, only documented status codes and content
types, bodies that match the documented schemas. Bounded: a number of examples per operation and a time
budget per service. Only 127.0.0.1 is ever called.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

import musicstore.cart
import musicstore.orders
import musicstore.store
from musicstore.cart.settings import CartSettings
from musicstore.common.embedded_pg import EmbeddedPostgres
from musicstore.orders.settings import OrderSettings
from musicstore.store.settings import StoreSettings
from tests.conftest import new_database
from tests.support.live import LiveService, stack_layout, three_services

pytestmark = pytest.mark.slow

ADMIN_PASSWORD = "fuzz-admin-password"
SERVICE_TOKEN = "fuzz-service-token"
MAX_EXAMPLES = 50  # per operation and phase: one pass of each phase, no repeats
TIME_LIMIT = 240  # seconds one service's run may take before the test gives up on it
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
CONFIG = f"""
[auth.openapi.adminBasic]
username = "admin"
password = "{ADMIN_PASSWORD}"

[auth.openapi.serviceToken]
bearer = "{SERVICE_TOKEN}"
"""


@pytest.fixture(scope="module")
def services(pg_server: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LiveService]]:
    """Store, orders and cart running on a throwaway catalog and databases, for this module."""
    root = tmp_path_factory.mktemp("fuzz")
    layout = stack_layout(root, admin_password=ADMIN_PASSWORD, service_token=SERVICE_TOKEN)
    data_dir, env = layout.data_dir, layout.env
    store_url = new_database(pg_server, "fuzz_store")
    musicstore.store.prepare(StoreSettings(DATABASE_URL=store_url, DATA_DIR=data_dir))
    order_db, cart_db = data_dir / "orders.db", data_dir / "cart.db"
    musicstore.orders.prepare(OrderSettings(ORDER_DB_PATH=order_db, DATA_DIR=data_dir))
    musicstore.cart.prepare(CartSettings(CART_DB_PATH=cart_db, DATA_DIR=data_dir))
    envs = {
        "store": {**env, "DATABASE_URL": store_url},
        "orders": {**env, "ORDER_DB_PATH": str(order_db)},
        # Many payments from one address: the payment limit would answer most of them 429 (documented, but dull).
        "cart": {**env, "CART_DB_PATH": str(cart_db), "PAYMENT_RATE_LIMIT": "10000 per minute", "HTTP_TIMEOUT": "2"},
    }
    with three_services(root, layout.ports, envs) as running:
        yield running


def schemathesis(service: LiveService, workdir: Path) -> subprocess.CompletedProcess[str]:
    """`schemathesis run` against one running service, in a folder of its own (its reports stay there)."""
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--no-color",
        "--config-file",
        str(config),
        "run",
        f"{service.url}/openapi.json",
        "--url",
        service.url,
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        # One worker: schemathesis's workers are threads, and before Python 3.11.8 ast.parse, which Hypothesis
        # calls to describe strategies, fails at random across threads (CPython gh-106905: "AST constructor
        # recursion depth mismatch").
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--max-redirects",
        "0",
        "--generation-database",
        "none",
        "--suppress-health-check",
        "all",
        "--seed",
        "20250101",
    ]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=TIME_LIMIT)


def answered(service: LiveService) -> set[tuple[str, str, str]]:
    """(method, route, status) of every answer the service counted on /metrics."""
    text = requests.get(f"{service.url}/metrics", timeout=5).text
    return {
        (sample.labels["method"], sample.labels["endpoint"], sample.labels["status"])
        for family in text_string_to_metric_families(text)
        if family.name == "http_requests"
        for sample in family.samples
        if sample.name == "http_requests_total" and sample.value > 0
    }


# Answers (any of the statuses) that show the run got past authentication and validation, not only to 4xx.
REACHED: dict[str, dict[tuple[str, str], set[str]]] = {
    "store": {("POST", "/api/albums"): {"201"}, ("GET", "/api/albums"): {"200"}},
    "orders": {("POST", "/api/orders"): {"201"}, ("GET", "/api/orders"): {"200"}},
    "cart": {
        ("POST", "/add_to_cart"): {"200"},
        ("GET", "/api/cart"): {"200"},
        ("POST", "/process_payment"): {"201", "202", "402", "409"},  # a checkout ran (not refused as a form)
    },
}


# The cart first, while the demo catalog is whole: the store's run deletes albums (DELETE /api/album/{id}).
@pytest.mark.parametrize("name", ["cart", "orders", "store"])
def test_fuzzing_a_running_service_finds_no_server_error_and_no_undocumented_answer(
    services: dict[str, LiveService], name: str, tmp_path: Path
) -> None:
    result = schemathesis(services[name], tmp_path)
    assert result.returncode == 0, (
        f"schemathesis found problems in the {name} service:\n{result.stdout[-20000:]}\n{result.stderr[-3000:]}"
    )
    reached = answered(services[name])
    missed = [call for call, statuses in REACHED[name].items() if not any((*call, s) in reached for s in statuses)]
    assert not missed, f"the run never got far on {missed}; it got {sorted(reached)}\n{result.stdout[-3000:]}"
