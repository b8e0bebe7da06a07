"""Helpers to run the order service for real (gunicorn) on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from musicstore.common.embedded_pg import free_port
from musicstore.orders import prepare
from tests.orders.conftest import ADMIN_PASSWORD, SERVICE_TOKEN, order_settings
from tests.support.live import LiveService, live_service


def live_env(data_dir: Path, database_url: str = "") -> dict[str, str]:
    """The environment a production order service runs with."""
    env = {
        "MODE": "production",
        "SECRET_KEY": "live-secret",
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "SERVICE_TOKEN": SERVICE_TOKEN,
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
    }
    if database_url:
        env["ORDER_DATABASE_URL"] = database_url
    else:
        env["ORDER_DB_PATH"] = str(data_dir / "orders.db")
    return env


@contextmanager
def running_orders(data_dir: Path, database_url: str = "", *, replicas: int = 1) -> Iterator[list[LiveService]]:
    """Migrate the database as `musicstore up` does, then run `replicas` order services on it."""
    prepare(order_settings(data_dir, database_url=database_url, ORDER_DB_PATH=data_dir / "orders.db"))
    ports = [free_port() for _ in range(replicas)]
    # Replicas sit behind one public address; here, the first one's.
    env = {**live_env(data_dir, database_url), "ORDER_SERVICE_URL": f"http://127.0.0.1:{ports[0]}"}
    with ExitStack() as stack:
        yield [
            stack.enter_context(live_service("musicstore.orders.wsgi:app", port, env, data_dir / f"orders-{i}.log"))
            for i, port in enumerate(ports)
        ]
