"""The three services as `musicstore serve` runs them (production gunicorn options, JSON logs, migrations at
start), on free loopback ports, each one's output in a log file: for the tests that read traces and logs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from musicstore.common.embedded_pg import EmbeddedPostgres
from tests.conftest import new_database
from tests.support.live import LiveService, stack_layout

ADMIN_PASSWORD = "tracing-admin-pw-5b1e7c"
SERVICE_TOKEN = "tracing-service-token-9f3a61d2"


class ServedService(LiveService):
    """A service started by `musicstore serve NAME`: what a container runs."""

    def __init__(self, name: str, port: int, env: dict[str, str], log_path: Path) -> None:
        super().__init__(f"musicstore serve {name}", port, env, log_path)
        self.name = name

    def start(self, timeout: float = 60.0) -> None:
        """Start `musicstore serve` and wait until /healthz answers."""
        own = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}  # only what the test gives
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "musicstore.cli", "serve", self.name, "--bind", f"127.0.0.1:{self.port}"],
                env={**own, **self.env}, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self._wait_healthy(timeout)


@dataclass(frozen=True)
class ServedStack:
    """The running services and where their logs are."""

    store: LiveService
    orders: LiveService
    cart: LiveService
    logs: list[Path]


@contextmanager
def served_stack(root: Path, pg_server: EmbeddedPostgres, db_name: str, **extra: str) -> Iterator[ServedStack]:
    """Store (on PostgreSQL), orders and cart (on SQLite) served for the block with `extra` in their
    environment; stopped after, so their logs are complete when the block ends."""
    layout = stack_layout(root, admin_password=ADMIN_PASSWORD, service_token=SERVICE_TOKEN)
    env = {**layout.env, "LOG_FORMAT": "json", **extra}
    envs = {
        "store": {**env, "DATABASE_URL": new_database(pg_server, db_name)},
        "orders": {**env, "ORDER_DB_PATH": str(layout.data_dir / "orders.db")},
        "cart": {**env, "CART_DB_PATH": str(layout.data_dir / "cart.db"), "PAYMENT_LATENCY_MS": "0"},
    }
    with ExitStack() as running:
        services = {}
        for name in ("store", "orders", "cart"):
            service = ServedService(name, layout.ports[name], envs[name], root / f"{name}.log")
            running.callback(service.stop)
            service.start()
            services[name] = service
        yield ServedStack(**services, logs=[root / f"{name}.log" for name in services])
