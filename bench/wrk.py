"""wrk, run and read: requests per second and the latency percentiles of `wrk --latency`; the hello-world ceiling."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from tenacity import retry, stop_after_delay, wait_fixed

from musicstore.common.embedded_pg import free_port

ROOT = Path(__file__).resolve().parent.parent
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
LATENCY = re.compile(r"^\s+(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    connections: int
    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    socket_errors: int
    bad_answers: int  # answers that were not 2xx or 3xx
    refused: int = 0  # answers a service gave in place of the page, a bulkhead being full (counted by the caller)

    @property
    def complete_per_second(self) -> float:
        """Requests per second less those a bulkhead refused."""
        return self.per_second * (1 - self.refused / max(self.requests, 1))


def parse(output: str, connections: int) -> WrkResult:
    """Read wrk's report (run with --latency)."""
    percentiles = {int(p): float(value) * UNITS_MS[unit] for p, value, unit in LATENCY.findall(output)}
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        connections=connections,
        requests=int(_find(r"(\d+) requests in", output)),
        per_second=float(_find(r"Requests/sec:\s+([\d.]+)", output)),
        p50_ms=percentiles[50],
        p99_ms=percentiles[99],
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        bad_answers=int(bad.group(1)) if bad else 0,
    )


def _find(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    if not found:
        raise ValueError(f"wrk's report has no {pattern!r}:\n{text}")
    return found.group(1)


def run(url: str, *, connections: int, seconds: float, headers: dict[str, str] | None = None,
        threads: int = 2) -> WrkResult:  # fmt: skip
    """One wrk run against `url` (loopback only); a request taking over 10 s counts as a timeout."""
    command = ["wrk", "--latency", "--timeout", "10s", f"-t{min(threads, connections)}", f"-c{connections}",
               f"-d{seconds:g}s"]  # fmt: skip
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60, check=True)
    return parse(done.stdout, connections)


def version() -> str:
    """wrk's version line."""
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).split(" [")[0].strip()


@contextmanager
def hello_world(workers: int) -> Iterator[str]:
    """bench/hello.py under gunicorn with `workers` sync workers on a free loopback port; yields its URL."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync",
               "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "bench.hello:app"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        _answering(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(30)


@retry(stop=stop_after_delay(30), wait=wait_fixed(0.1), reraise=True)
def _answering(url: str, server: subprocess.Popen[bytes]) -> None:
    assert server.poll() is None, "the hello-world's gunicorn exited"
    requests.get(url, timeout=2).raise_for_status()
