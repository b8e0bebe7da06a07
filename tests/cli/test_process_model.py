"""The process model: one worker per usable CPU by default, forked from a preloaded app; each worker follows the
fault switches itself, and one worker at a time runs the cart's sweep and the order service's stock returns."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
import requests
from prometheus_client.mmap_dict import MmapedDict

from musicstore import local_config
from musicstore.common import flags
from musicstore.common.embedded_pg import free_port
from tests.support.live import LiveService, assert_live_workers, live_workers, only_worker, served_by_cli, stack_env
from tests.support.waiting import eventually

# Each service's background work that queries its own database every so often, made frequent here.
SWEEPS = {"cart": {"RECONCILE_INTERVAL": "0.2"}, "orders": {"STOCK_RETURN_POLL": "0.2"}}
DB_NODE = {"cart": "cart-db", "orders": "orders-db"}


@pytest.fixture()
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The CLI's settings read again from the environment this test sets."""
    local_config.settings.cache_clear()
    yield monkeypatch
    local_config.settings.cache_clear()


def test_the_worker_count_defaults_to_the_cpus_this_process_may_run_on(
    fresh_settings: pytest.MonkeyPatch,
) -> None:
    fresh_settings.delenv("WEB_WORKERS", raising=False)
    fresh_settings.setattr(os, "sched_getaffinity", lambda _pid: {0, 2, 5})
    fresh_settings.setattr(local_config, "CGROUP_CPU_MAX", Path("/nonexistent/cpu.max"))
    options = local_config.gunicorn_options()
    assert options[options.index("--workers") + 1] == "3"
    assert "--preload" in options


@pytest.mark.parametrize(("cpu_max", "expected"), [("max 100000\n", 3), ("100000 100000\n", 1),
                                                     ("150000 100000\n", 2), ("900000 100000\n", 3)])  # fmt: skip
def test_a_cgroup_cpu_quota_caps_the_cpus_counted(
    fresh_settings: pytest.MonkeyPatch, tmp_path: Path, cpu_max: str, expected: int
) -> None:
    fresh_settings.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2})
    (tmp_path / "cpu.max").write_text(cpu_max)
    assert local_config.usable_cpus(tmp_path / "cpu.max") == expected
    assert local_config.usable_cpus(tmp_path / "missing") == 3


def test_the_worker_count_is_still_a_setting(fresh_settings: pytest.MonkeyPatch) -> None:
    fresh_settings.setenv("WEB_WORKERS", "5")
    options = local_config.gunicorn_options()
    assert options[options.index("--workers") + 1] == "5"


@contextmanager
def serve(service: str, tmp_path: Path, **extra: str) -> Iterator[LiveService]:
    """`musicstore serve SERVICE` with two workers on SQLite, its metrics in tmp_path/metrics, flags in its data."""
    port, data = free_port(), tmp_path / "var"
    flags.ensure_file(data / "flags.json")
    urls = {name: f"http://127.0.0.1:{free_port()}" for name in ("store", "orders", "cart")}
    env = stack_env(data, urls | {service: f"http://127.0.0.1:{port}"}, admin_password="pass", service_token="tok")
    env |= {"WEB_WORKERS": "2", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), **extra}
    (tmp_path / "metrics").mkdir()
    with served_by_cli(service, port, env, tmp_path / f"{service}.log", workers=2) as running:
        yield running


@pytest.fixture()
def cart(tmp_path: Path) -> Iterator[LiveService]:
    """The cart under `musicstore serve` with two workers and a sweep every 0.2 s."""
    with serve("cart", tmp_path, **SWEEPS["cart"]) as running:
        yield running


def queries_counted(metrics_dir: Path, pid: int, db: str) -> float:
    """The database statements one process counted (db_client_queries_total{db, outcome="ok"}) in its own file."""
    path = metrics_dir / f"counter_{pid}.db"
    if not path.exists():
        return 0.0
    total = 0.0
    for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path)):
        _metric, sample, labels, _help = json.loads(key)
        if sample == "db_client_queries_total" and labels == {"db": db, "outcome": "ok"}:
            total += value
    return total


@pytest.mark.slow
def test_a_fault_flag_switched_while_the_service_runs_takes_effect_in_every_worker(
    cart: LiveService, tmp_path: Path
) -> None:
    path = tmp_path / "var" / "flags.json"
    serving = live_workers(cart)
    for worker in serving:  # each worker answers once before the switch, so each has read the flags already
        with only_worker(cart, worker):
            assert requests.get(f"{cart.url}/readyz", timeout=10).status_code == 200
    flags.set_value(path, "cartNotReady", True)
    for worker in serving:

        def _not_ready(worker: psutil.Process = worker) -> None:
            with only_worker(cart, worker):
                assert requests.get(f"{cart.url}/readyz", timeout=10).status_code == 503

        eventually(_not_ready, timeout=5, interval=0.2)
    flags.set_value(path, "cartNotReady", False)


@pytest.mark.slow
@pytest.mark.parametrize("service", ["cart", "orders"])
def test_one_worker_runs_the_background_sweep_and_another_takes_it_over_when_it_exits(
    service: str, tmp_path: Path
) -> None:
    with serve(service, tmp_path, **SWEEPS[service]) as running:
        assert running.process is not None
        master, metrics = running.process.pid, tmp_path / "metrics"
        # no request is sent: only a background sweep queries the database
        sweeping, _idle = sweeping_and_idle(metrics, live_workers(running), DB_NODE[service])
        sweeping.kill()
        sweeping.wait(10)
        eventually(lambda: assert_live_workers(running, 2), timeout=15)
        sweeping_and_idle(metrics, live_workers(running), DB_NODE[service])  # the other, or the one forked anew
        assert queries_counted(metrics, master, DB_NODE[service]) == 0


def sweeping_and_idle(
    metrics: Path, workers: list[psutil.Process], db: str
) -> tuple[psutil.Process, list[psutil.Process]]:
    """The worker that sweeps (once one has counted three more queries) and the others, which counted none more
    meanwhile (a readiness check may have counted one before)."""
    before = {worker: queries_counted(metrics, worker.pid, db) for worker in workers}

    def _more() -> dict[psutil.Process, float]:
        return {worker: queries_counted(metrics, worker.pid, db) - count for worker, count in before.items()}

    def _swept() -> None:
        assert max(_more().values()) >= 3

    eventually(_swept, timeout=15, interval=0.2)
    sweeping = [worker for worker, more in _more().items() if more]
    assert len(sweeping) == 1, _more()
    return sweeping[0], [worker for worker in workers if worker is not sweeping[0]]


def accepted_by(worker: psutil.Process, port: int) -> int:
    """The connections to `port` that this worker process has accepted (a connection still in the listening
    socket's queue belongs to no process)."""
    return sum(1 for c in worker.net_connections("tcp") if c.laddr.port == port and c.status == "ESTABLISHED")


@contextmanager
def holding(orders: LiveService, count: int) -> Iterator[tuple[list[socket.socket], list[psutil.Process], int]]:
    """`count` connections opened one by one, each sending a request line and no end of headers (a thread takes it
    and waits for the rest), each accepted by a worker before the next is opened; closed after the block."""
    serving, port = live_workers(orders), int(orders.url.rpartition(":")[2])
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            held[-1].sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")

            def _accepted(total: int = len(held)) -> None:
                assert sum(accepted_by(worker, port) for worker in serving) == total

            eventually(_accepted, timeout=10)
        yield held, serving, port
    finally:
        for connection in held:
            connection.close()


def finish(held: list[socket.socket]) -> None:
    """Complete every held request; each is answered."""
    for connection in held:
        connection.sendall(b"\r\n")
        assert connection.recv(100).startswith(b"HTTP/1.1 200")


@pytest.mark.slow
def test_connections_a_busy_worker_cannot_serve_go_to_the_other_worker(tmp_path: Path) -> None:
    with serve("orders", tmp_path, WEB_THREADS="3") as orders, holding(orders, 6) as (held, serving, port):
        assert sorted(accepted_by(worker, port) for worker in serving) == [3, 3]
        finish(held)


@pytest.mark.slow
def test_with_every_thread_of_every_worker_busy_new_connections_are_still_taken_and_served(tmp_path: Path) -> None:
    # two workers of two threads: every thread busy, then three more connections wait for one
    with serve("orders", tmp_path, WEB_THREADS="2") as orders, holding(orders, 4 + 3) as (held, _serving, _port):
        finish(held)
