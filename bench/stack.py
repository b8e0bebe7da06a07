"""The whole local stack (`musicstore up`) on free ports in a temporary folder, for the benchmarks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import requests
from tenacity import retry, stop_after_delay, wait_fixed

from musicstore.common.embedded_pg import free_port


class Stack:
    """`musicstore up` on free ports in a temporary folder."""

    def __init__(self, *, root: Path | None = None, **env: str) -> None:
        """Start it in a new temporary folder, or in `root` (an earlier stack's, to time a restart)."""
        self.root = root or Path(tempfile.mkdtemp(prefix="musicstore-bench-"))
        os.chmod(self.root, 0o755)  # noqa: S103 - as root, PostgreSQL runs as another user who must reach it
        names = ("STORE_PORT", "ORDER_PORT", "CART_PORT", "DB_PORT", "TRAFFIC_PORT")
        self.ports = {name: free_port() for name in names}
        full_env = {**os.environ, **{k: str(v) for k, v in self.ports.items()}, "DATA_DIR": str(self.root / "var"),
                    **env}  # fmt: skip
        self.log = (self.root / "up.log").open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "musicstore.cli", "up"], env=full_env, stdout=self.log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip
        self.ui = f"http://127.0.0.1:{self.ports['TRAFFIC_PORT']}"

    def url(self, service: str) -> str:
        """The loopback URL of store, orders or cart."""
        port = {"store": "STORE_PORT", "orders": "ORDER_PORT", "cart": "CART_PORT"}[service]
        return f"http://127.0.0.1:{self.ports[port]}"

    @retry(stop=stop_after_delay(120), wait=wait_fixed(0.5), reraise=True)
    def wait_ready(self) -> None:
        """Until every service and the traffic UI answer."""
        assert self.process.poll() is None, "musicstore up exited"
        for name in ("store", "orders", "cart"):
            requests.get(f"{self.url(name)}/readyz", timeout=2).raise_for_status()
        requests.get(self.ui, timeout=2).raise_for_status()

    def secrets(self) -> dict[str, str]:
        """The admin password and service token `musicstore up` generated."""
        found: dict[str, str] = json.loads((self.root / "var" / "secrets.json").read_text())
        return found

    def master(self, service: str) -> psutil.Process:
        """The gunicorn master of one service: the process listening on its port, forked from the process that
        runs the services (musicstore.zygote) under `musicstore up`."""
        port = self.ports[{"store": "STORE_PORT", "orders": "ORDER_PORT", "cart": "CART_PORT"}[service]]
        for process in psutil.Process(self.process.pid).children(recursive=True):
            try:
                listening = any(c.laddr.port == port and c.status == psutil.CONN_LISTEN
                                for c in process.net_connections("tcp"))  # fmt: skip
            except psutil.Error:
                continue
            if listening and process.children():  # its workers listen on the inherited socket too
                return process
        raise RuntimeError(f"no {service} under musicstore up")

    def workers(self, service: str) -> list[psutil.Process]:
        """The gunicorn workers of one service (the children of its gunicorn master)."""
        return self.master(service).children()

    def close(self) -> None:
        """Ctrl-C to `musicstore up`."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(60)
        self.log.close()
