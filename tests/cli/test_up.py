"""`musicstore up`: one command starts the whole system; Ctrl-C stops all of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
import psycopg
import pytest
import requests
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

from musicstore.cli import available_services
from musicstore.common.embedded_pg import free_port
from musicstore.local_config import PORT_VARS, load_secrets

pytestmark = pytest.mark.slow


def wait_until_answers(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    @retry(
        retry=retry_if_exception_type(requests.RequestException),
        stop=stop_after_delay(timeout),
        wait=wait_fixed(0.2),
        reraise=True,
    )
    def _check() -> None:
        if process.poll() is not None:
            raise AssertionError(f"musicstore up exited early:\n{log.read_text()[-4000:]}")
        requests.get(url, timeout=2).raise_for_status()

    _check()


def browsers_under(folder: Path) -> list[int]:
    """Processes (Chromium) whose command line names a folder under `folder` (their profile)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and str(folder) in " ".join(
                process.info["cmdline"] or []
            ):
                found.append(process.pid)
        except psutil.Error:
            continue
    return found


def wait_until(check: Callable[[], object], process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    @retry(retry=retry_if_exception_type(AssertionError), stop=stop_after_delay(timeout), wait=wait_fixed(0.2),
           reraise=True)  # fmt: skip
    def _check() -> None:
        assert process.poll() is None, log.read_text()[-4000:]
        assert check(), "not yet"

    _check()


# Compiled parts of what the services import (Flask's markupsafe, SQLAlchemy, pydantic, psycopg, Pillow, gRPC):
# a process that imported them has their shared objects mapped.
SERVICE_LIBRARIES = ("markupsafe", "sqlalchemy", "pydantic_core", "psycopg", "PIL", "grpc")
SUPERVISOR_PSS_MB = 30  # the standard library and the supervisor: about 12 MB; a service's code: 100 MB


def assert_holds_no_service_code(pid: int) -> None:
    """The long-lived `musicstore up` process imported none of the services' code, and is small."""
    mapped = Path(f"/proc/{pid}/maps").read_text()
    assert [name for name in SERVICE_LIBRARIES if f"site-packages/{name}" in mapped] == []
    assert psutil.Process(pid).memory_full_info().pss < SUPERVISOR_PSS_MB * 2**20


def zygote_of(pid: int) -> psutil.Process:
    """The child of `up` that runs the services (musicstore.zygote)."""
    (found,) = [c for c in psutil.Process(pid).children() if "musicstore.zygote" in " ".join(c.cmdline())]
    return found


def master_on(port: int, zygote: psutil.Process) -> psutil.Process:
    """The service process (gunicorn's master) forked from the zygote that listens on `port`."""
    (found,) = [m for m in zygote.children() if any(c.laddr.port == port for c in m.net_connections("tcp"))]
    return found


def assert_services_forked_from_one_process(pid: int, ports: dict[str, int]) -> None:
    """Every service's gunicorn master is a child of one process, which imported their libraries once, forked
    them and then became a small watcher holding none of it; each has workers of its own."""
    zygote = zygote_of(pid)
    assert_holds_no_service_code(zygote.pid)
    services = available_services()
    masters = [master_on(ports[PORT_VARS[service]], zygote) for service in services]
    assert len({m.pid for m in masters}) == len(services) == len(zygote.children())
    assert all(m.children() for m in masters)


def assert_ends_idle_sessions(port: int, data: Path) -> None:
    """The embedded server ends sessions idle for a minute (a burst's idle backends give their memory back)."""
    password = load_secrets(data).db_password
    with psycopg.connect(host="127.0.0.1", port=port, user="music_user", password=password, dbname="music_store") as db:
        assert db.execute("SHOW idle_session_timeout").fetchone() == ("1min",)


def test_up_starts_the_seeded_shop_on_embedded_postgres_and_the_idle_traffic_ui_and_ctrl_c_stops_everything(
    shared_tmp: Path,
) -> None:
    tmp_path = shared_tmp
    ports = {
        "STORE_PORT": free_port(),
        "ORDER_PORT": free_port(),
        "CART_PORT": free_port(),
        "DB_PORT": free_port(),
        "TRAFFIC_PORT": free_port(),
    }
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DB_HOST", "ADMIN_PASSWORD"}}
    env.update({k: str(v) for k, v in ports.items()})
    env["DATA_DIR"] = str(tmp_path / "var")
    env["TMPDIR"] = str(tmp_path / "tmp")  # the traffic generator's browser profiles: found by this folder
    (tmp_path / "tmp").mkdir()
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "musicstore.cli", "up"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        store = f"http://127.0.0.1:{ports['STORE_PORT']}"
        for service in available_services():
            wait_until_answers(f"http://127.0.0.1:{ports[PORT_VARS[service]]}/readyz", process, log, timeout=90)
        traffic = f"http://127.0.0.1:{ports['TRAFFIC_PORT']}"
        wait_until_answers(traffic, process, log)
        idle = requests.get(f"{traffic}/stats/requests", timeout=5).json()  # local mode: open on loopback
        assert idle["state"] == "ready" and idle["user_count"] == 0
        albums = requests.get(f"{store}/api/albums", timeout=5).json()
        assert albums["total"] >= 40
        swarm = {"user_count": "1", "spawn_rate": "1", "user_classes": "BrowserShopper"}
        assert requests.post(f"{traffic}/swarm", data=swarm, timeout=10).json()["success"]
        wait_until(lambda: browsers_under(tmp_path / "tmp"), process, log)  # a browser shopper is shopping
        assert_holds_no_service_code(process.pid)
        assert_services_forked_from_one_process(process.pid, ports)
        children = psutil.Process(process.pid).children(recursive=True)
        assert any("postgres" in c.name() for c in children)
        assert_ends_idle_sessions(ports["DB_PORT"], tmp_path / "var")
        output = log.read_text()
        assert "admin log-in: user 'admin', password '" in output
        assert f"Traffic generator http://localhost:{ports['TRAFFIC_PORT']}" in output
        assert (tmp_path / "var" / "secrets.json").exists()
        assert (tmp_path / "var" / "postgres" / "PG_VERSION").exists()
        assert "orders" in available_services()
        assert (tmp_path / "var" / "orders.db").exists()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert alive == [], f"left running: {[p.info if hasattr(p, 'info') else p for p in alive]}"
        assert "stopped; bye" in log.read_text()
        assert browsers_under(tmp_path / "tmp") == []  # Ctrl-C during a run leaves no browser behind
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_a_service_that_exits_stops_the_whole_stack_and_says_which_one(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("STORE_PORT", "ORDER_PORT", "CART_PORT", "DB_PORT", "TRAFFIC_PORT")}
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DB_HOST", "ADMIN_PASSWORD"}}
    env |= {k: str(v) for k, v in ports.items()} | {"DATA_DIR": str(tmp_path / "var"), "WEB_WORKERS": "1"}
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "musicstore.cli", "up"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        for service in available_services():
            wait_until_answers(f"http://127.0.0.1:{ports[PORT_VARS[service]]}/readyz", process, log, timeout=90)
        everything = psutil.Process(process.pid).children(recursive=True)
        master_on(ports["ORDER_PORT"], zygote_of(process.pid)).kill()
        assert process.wait(timeout=60) == 1
        _gone, alive = psutil.wait_procs(everything, timeout=10)
        assert alive == []
        output = log.read_text()
        assert "orders exited with code -9; stopping the other services" in output
        assert "stopped because services exited with code" in output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
