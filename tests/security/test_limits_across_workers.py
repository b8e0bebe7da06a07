"""A rate limit counts once for a whole server, whichever of its gunicorn workers answers: `musicstore serve`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import psutil
import pytest
import requests

from musicstore.common.embedded_pg import free_port
from tests.support.live import LiveService, assert_live_workers, live_workers, only_worker, served_by_cli, stack_env
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

ADMIN_PASSWORD = "admin-pass"


def serving(tmp_path: Path) -> AbstractContextManager[LiveService]:
    """The order service under `musicstore serve` with two workers (its log-in limit: 10 a minute per address),
    with a temporary folder of its own."""
    port = free_port()
    urls = {name: f"http://127.0.0.1:{free_port()}" for name in ("store", "cart")} | {"orders": ""}
    env = stack_env(tmp_path / "var", urls, admin_password=ADMIN_PASSWORD, service_token="token")
    env |= {"ORDER_SERVICE_URL": f"http://127.0.0.1:{port}", "WEB_WORKERS": "2", "STOCK_RETURN_WORKER": "false"}
    (tmp_path / "tmp").mkdir()
    env |= {"TMPDIR": str(tmp_path / "tmp")}
    return served_by_cli("orders", port, env, tmp_path / "orders.log", workers=2)


@pytest.fixture()
def orders(tmp_path: Path) -> Iterator[LiveService]:
    """The order service with two workers, stopped after the test."""
    with serving(tmp_path) as service:
        yield service


def test_failed_log_ins_at_one_worker_use_up_the_limit_at_the_other(orders: LiveService) -> None:
    first, second = live_workers(orders)
    orders_api = f"{orders.url}/api/orders"
    with only_worker(orders, first):
        tried = [requests.get(orders_api, auth=("admin", "guess"), timeout=10).status_code for _ in range(10)]
    assert tried == [401] * 10
    with only_worker(orders, second):
        refused = requests.get(orders_api, auth=("admin", "guess"), timeout=10)
        right = requests.get(orders_api, auth=("admin", ADMIN_PASSWORD), timeout=10)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert right.status_code == 429  # the address waits, even with the right password, at every worker


def test_the_counts_file_lives_as_long_as_the_server_and_a_worker_s_exit_leaves_it(tmp_path: Path) -> None:
    with serving(tmp_path) as orders:
        made = list((tmp_path / "tmp").glob("musicstore-limits-*"))
        assert len(made) == 1 and (made[0] / "counts.sqlite").exists()
        worker = live_workers(orders)[0]
        worker.terminate()  # a worker that exits (gunicorn starts another)
        psutil.wait_procs([worker], timeout=10)
        eventually(lambda: assert_live_workers(orders, 2), timeout=30)
        assert (made[0] / "counts.sqlite").exists()
        assert requests.get(f"{orders.url}/api/orders", auth=("admin", "guess"), timeout=10).status_code == 401
    assert not list((tmp_path / "tmp").glob("musicstore-limits-*"))  # gone with the server
