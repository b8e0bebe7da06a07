"""Run a service for real (gunicorn on a free port) inside a test, and stop it after."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

from musicstore import local_config
from musicstore.common.embedded_pg import free_port
from tests.support.waiting import eventually


class ServiceNotReady(Exception):
    """The service did not answer /healthz in time."""


class LiveService:
    """A service process under gunicorn, reachable at `url`."""

    def __init__(self, wsgi: str, port: int, env: dict[str, str], log_path: Path, *, workers: int = 1) -> None:
        self.wsgi, self.port, self.env, self.log_path = wsgi, port, env, log_path
        self.workers_count = workers
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Start the process and wait until /healthz answers."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    # As `musicstore serve` runs it (preloaded, its hooks, gunicorn's own errors in JSON), with
                    # one worker of 8 threads unless the test asks for more, and a shorter graceful stop.
                    *local_config.gunicorn_options(),
                    "--workers",
                    str(self.workers_count),
                    "--threads",
                    "8",
                    "--graceful-timeout",
                    "5",
                    self.wsgi,
                ],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_healthy(timeout)

    def _wait_healthy(self, timeout: float) -> None:
        @retry(
            retry=retry_if_exception_type((requests.RequestException, ServiceNotReady)),
            stop=stop_after_delay(timeout),
            wait=wait_fixed(0.1),
            reraise=True,
        )
        def _check() -> None:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.wsgi} exited early; see {self.log_path}:\n{self.log_path.read_text()[-3000:]}"
                )
            if requests.get(f"{self.url}/healthz", timeout=1).status_code != 200:
                raise ServiceNotReady(self.url)

        _check()

    def workers(self) -> list[psutil.Process]:
        """The gunicorn worker processes serving now."""
        assert self.process is not None
        return psutil.Process(self.process.pid).children()

    def pause(self) -> None:
        """Stall the service: its workers stop (SIGSTOP); connections still queue in the kernel, unanswered."""
        for worker in self.workers():
            worker.suspend()

    def resume(self) -> None:
        """Let stalled workers go on (SIGCONT): they then serve what queued meanwhile."""
        for worker in self.workers():
            worker.resume()

    def kill_workers(self, timeout: float = 30.0) -> None:
        """Kill the workers (SIGKILL) mid-work; gunicorn starts new ones, and this waits until they answer."""
        killed = self.workers()
        for worker in killed:
            worker.kill()
        psutil.wait_procs(killed, timeout=timeout)
        self._wait_healthy(timeout)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the process (SIGTERM, then SIGKILL if it lingers)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)


@contextmanager
def served_by_cli(
    service: str, port: int, env: dict[str, str], log_path: Path, *, workers: int
) -> Iterator[LiveService]:
    """`musicstore serve SERVICE` as a container runs it (it prepares, then runs gunicorn), until `workers` of its
    worker processes are alive; stopped after."""
    running = LiveService("", port, env, log_path)
    with log_path.open("wb") as log:
        command = [sys.executable, "-m", "musicstore.cli", "serve", service, "--bind", f"127.0.0.1:{port}"]
        running.process = subprocess.Popen(command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    try:
        running._wait_healthy(60)
        eventually(lambda: assert_live_workers(running, workers), timeout=30)
        yield running
    finally:
        running.stop()


def live_workers(service: LiveService) -> list[psutil.Process]:
    """The service's worker processes that are alive (a killed one may linger as a zombie until reaped)."""
    return [w for w in service.workers() if w.status() != psutil.STATUS_ZOMBIE]


@contextmanager
def only_worker(service: LiveService, worker: psutil.Process) -> Iterator[None]:
    """While the block runs, every other worker is stopped (SIGSTOP): `worker` answers everything."""
    others = [w for w in live_workers(service) if w.pid != worker.pid]
    for other in others:
        other.suspend()
    try:
        yield
    finally:
        for other in others:
            other.resume()


def assert_live_workers(service: LiveService, count: int) -> None:
    """Fails unless exactly `count` of the service's workers are alive."""
    assert len(live_workers(service)) == count


@dataclass(frozen=True)
class StackLayout:
    """Where a test stack lives: its data folder, the services' free ports, and their shared environment."""

    data_dir: Path
    ports: dict[str, int]
    env: dict[str, str]


def stack_layout(root: Path, *, admin_password: str, service_token: str) -> StackLayout:
    """A data folder under root, a free port per service, and the environment they share."""
    data_dir = root / "var"
    data_dir.mkdir()
    ports = {name: free_port() for name in ("store", "orders", "cart")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = stack_env(data_dir, urls, admin_password=admin_password, service_token=service_token)
    return StackLayout(data_dir, ports, env)


def stack_env(data_dir: Path, urls: dict[str, str], *, admin_password: str, service_token: str) -> dict[str, str]:
    """The environment the three services of a test stack share (production mode, every secret given)."""
    return {
        "MODE": "production",
        "SECRET_KEY": "test-secret-key",
        "ADMIN_PASSWORD": admin_password,
        "SERVICE_TOKEN": service_token,
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
        "STORE_SERVICE_URL": urls["store"],
        "ORDER_SERVICE_URL": urls["orders"],
        "CART_SERVICE_URL": urls["cart"],
    }


@contextmanager
def live_service(wsgi: str, port: int, env: dict[str, str], log_path: Path) -> Iterator[LiveService]:
    """A running service for the duration of the block."""
    service = LiveService(wsgi, port, env, log_path)
    try:
        service.start()
        yield service
    finally:
        service.stop()


@contextmanager
def three_services(
    root: Path, ports: dict[str, int], envs: dict[str, dict[str, str]]
) -> Iterator[dict[str, LiveService]]:
    """Store, orders and cart running (logs under root) for the duration of the block, stopped after."""
    with ExitStack() as running:
        yield {
            name: running.enter_context(
                live_service(f"musicstore.{name}.wsgi:app", ports[name], envs[name], root / f"{name}.log")
            )
            for name in ("store", "orders", "cart")
        }
