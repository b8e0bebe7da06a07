"""With several gunicorn workers, /metrics counts what all of them served: `musicstore serve` for real."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from musicstore.common.embedded_pg import free_port
from tests.metrics.conftest import samples, value
from tests.support.live import LiveService, assert_live_workers, live_workers, only_worker, served_by_cli, stack_env
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

SENT = 20  # requests per worker
TRAFFIC = {"User-Agent": "musicstore-traffic/test", "Connection": "close"}
COUNTED = {"method": "GET", "endpoint": "/healthz", "status": "200", "caller": "traffic", "synthetic": "false"}


@pytest.fixture()
def metrics_dir(tmp_path: Path) -> Path:
    """The directory the service is told to keep its metrics in, with a broken file an earlier start left."""
    path = tmp_path / "metrics"
    path.mkdir()
    (path / "counter_99999.db").write_bytes(b"not a metrics file")
    return path


@pytest.fixture()
def orders(tmp_path: Path, metrics_dir: Path) -> Iterator[LiveService]:
    """The order service under `musicstore serve` with two workers, on SQLite."""
    port = free_port()
    urls = {name: f"http://127.0.0.1:{free_port()}" for name in ("store", "cart")} | {"orders": ""}
    env = stack_env(tmp_path / "var", urls, admin_password="admin-pass", service_token="token")
    env |= {"ORDER_SERVICE_URL": f"http://127.0.0.1:{port}", "WEB_WORKERS": "2"}
    env |= {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "STOCK_RETURN_WORKER": "false"}
    with served_by_cli("orders", port, env, tmp_path / "orders.log", workers=2) as service:
        yield service


def counted_by(service: LiveService, worker: psutil.Process) -> float:
    """The served count of /metrics as `worker` answers it."""
    with only_worker(service, worker):
        text = requests.get(f"{service.url}/metrics", timeout=10).text
    return value(samples(text, "http_requests_total"), **COUNTED)


def test_metrics_count_the_requests_every_worker_served_whichever_worker_answers(
    orders: LiveService, metrics_dir: Path
) -> None:
    serving = live_workers(orders)
    for worker in serving:
        with only_worker(orders, worker):
            for _ in range(SENT):
                assert requests.get(f"{orders.url}/healthz", headers=TRAFFIC, timeout=10).status_code == 200
    for worker in serving * 2:
        assert counted_by(orders, worker) == SENT * len(serving)
    names = {path.name for path in metrics_dir.iterdir()}
    assert {f"counter_{worker.pid}.db" for worker in serving} <= names
    assert "counter_99999.db" not in names  # what an earlier start left was removed


def test_a_killed_workers_counts_stay_counted(orders: LiveService) -> None:
    first, _second = live_workers(orders)
    with only_worker(orders, first):
        for _ in range(SENT):
            requests.get(f"{orders.url}/healthz", headers=TRAFFIC, timeout=10)
    first.kill()
    psutil.wait_procs([first], timeout=10)
    eventually(lambda: assert_live_workers(orders, 2), timeout=30)
    orders._wait_healthy(30)
    for worker in live_workers(orders):
        assert counted_by(orders, worker) == SENT


def test_stopping_the_service_removes_its_metric_files(orders: LiveService, metrics_dir: Path) -> None:
    requests.get(f"{orders.url}/healthz", headers=TRAFFIC, timeout=10)
    orders.stop()
    assert not metrics_dir.exists()
