"""The shop the generator runs against in tests: store, orders and cart running, a seeded catalog."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

import musicstore.cart
import musicstore.orders
import musicstore.store
from musicstore.cart.settings import CartSettings
from musicstore.common.embedded_pg import EmbeddedPostgres
from musicstore.orders.settings import OrderSettings
from musicstore.store.settings import StoreSettings
from tests.conftest import new_database
from tests.support.live import LiveService, stack_layout, three_services

ADMIN_PASSWORD = "traffic-admin-password"
SERVICE_TOKEN = "traffic-service-token"
RUN_LIMIT = 240  # seconds any generator process in a test may take before the test gives up on it


@dataclass
class Shop:
    """Store (seeded demo catalog), orders and cart running, and the environment the generator needs."""

    services: dict[str, LiveService]
    root: Path

    @property
    def tmp(self) -> Path:
        """The temporary folder of the generator runs (their browser profiles live there)."""
        path = self.root / "tmp"
        path.mkdir(exist_ok=True)
        return path

    def url(self, name: str) -> str:
        """A service's base URL."""
        return self.services[name].url

    def order_count(self) -> int:
        """How many orders the order service has."""
        response = requests.get(
            f"{self.url('orders')}/api/orders", headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=10
        )
        response.raise_for_status()
        total: int = response.json()["total"]
        return total

    def traffic_env(self, **extra: str) -> dict[str, str]:
        """The environment of a generator process aimed at this shop (production mode: everything named)."""
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TRAFFIC_", "LOCUST_"))},
            "MODE": "production",
            "STORE_SERVICE_URL": self.url("store"),
            "CART_SERVICE_URL": self.url("cart"),
            "ORDER_SERVICE_URL": self.url("orders"),
            "SERVICE_TOKEN": SERVICE_TOKEN,
            "ADMIN_PASSWORD": ADMIN_PASSWORD,
            "TMPDIR": str(self.tmp),
            **extra,
        }

    def traffic(self, *args: str, log_name: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start `musicstore traffic ARGS` (its output in a log file under the shop's folder)."""
        with (self.root / log_name).open("wb") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "musicstore.cli", "traffic", *args],
                env=env or self.traffic_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def log(self, name: str) -> str:
        """The text of a log file."""
        return (self.root / name).read_text(errors="replace")


def browsers_left(shop: Shop) -> list[str]:
    """Chromium or chromedriver processes the shop's generator runs started, still running.

    Chromium is found by its profile, which the generator makes under the runs' TMPDIR; chromedriver by the
    process ids the runs logged. Browsers of anything else on the machine do not count.
    """
    pids = {
        int(pid) for log in shop.root.glob("*.log") for pid in re.findall(r"chromedriver pid (\d+)", log.read_text())
    }
    left = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            command = " ".join(process.info["cmdline"] or [])
            mine = str(shop.tmp) in command or process.pid in pids
            if mine and process.info["status"] != psutil.STATUS_ZOMBIE:
                left.append(f"{process.pid} {command[:120]}")
        except psutil.Error:
            continue
    return left


def summary_of(path: Path) -> dict[str, Any]:
    """A run's JSON summary."""
    body: dict[str, Any] = json.loads(path.read_text())
    return body


@pytest.fixture(scope="module")
def shop(pg_server: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """The three services running for one test module, on a seeded demo catalog of their own."""
    root = tmp_path_factory.mktemp("traffic")
    layout = stack_layout(root, admin_password=ADMIN_PASSWORD, service_token=SERVICE_TOKEN)
    data_dir, ports, env = layout.data_dir, layout.ports, layout.env
    store_url = new_database(pg_server, f"traffic_{ports['store']}")
    musicstore.store.prepare(StoreSettings(DATABASE_URL=store_url, DATA_DIR=data_dir))
    musicstore.orders.prepare(OrderSettings(DATA_DIR=data_dir))
    musicstore.cart.prepare(CartSettings(DATA_DIR=data_dir))
    # A generous timeout for the cart's calls: these tests judge the generator, not the cart under a loaded machine.
    envs = {"store": {**env, "DATABASE_URL": store_url}, "orders": env, "cart": {**env, "HTTP_TIMEOUT": "10"}}
    with three_services(root, ports, envs) as services:
        yield Shop(services=services, root=root)
