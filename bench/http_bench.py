"""`make bench`: HTTP throughput, latency, memory and start-up of the local stack beside a Flask hello-world (#16).

In one run on this machine: wrk (2 threads, 16 and 64 connections, 10 s each) against a minimal Flask hello-world
under gunicorn with 2 x cores + 1 sync workers (the ceiling), then against the whole local stack as `musicstore up`
runs it by default (bench/stack.py; temporary data directory, free ports, loopback only): the shop page, the album
API, the cart page with three lines and the admin's order list with 100 orders (bench/endpoints.py puts that data in
through the services' APIs). Then a sequential purchase through the cart's JSON API, timed; the stack's memory
(PSS of `musicstore up`'s process tree) idle and at its peak during a one-minute run of HTTP shoppers driven through
the traffic UI's Locust API; and the start-up time, from launching `musicstore up` to every /readyz answering 200.
Prints a Markdown section and writes it into bench/README.md in place of the earlier one.
Usage: PYTHONPATH=. .venv/bin/python bench/http_bench.py [--purchases 200] [--traffic-seconds 60] [--no-readme]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import gunicorn
import locust
import psutil
import requests
from bench import endpoints, report, wrk
from bench.stack import Stack
from bench.traffic_memory import TrafficStack, pss
from bench.wrk import WrkResult
from tenacity import retry, stop_after_delay, wait_fixed

from musicstore.common.embedded_pg import IDLE_SESSION_SECONDS
from musicstore.local_config import LocalSettings

CONNECTIONS = (16, 64)
SECONDS = 10
WARM_UP_SECONDS = 2
TRAFFIC_USERS = 40
# a client session's process title: "postgres: music_user music_store 127.0.0.1(49702) idle" (or "[local]")
CLIENT_BACKEND = re.compile(r"^postgres: \S+ \S+ (\S+\(\d+\)|\[local\])")
README = Path(__file__).resolve().parent / "README.md"


@dataclass
class Results:
    """Everything one run measured."""

    hello: dict[int, WrkResult] = field(default_factory=dict)
    hello_after: WrkResult | None = None
    endpoints: list[tuple[endpoints.Endpoint, dict[int, WrkResult]]] = field(default_factory=list)
    purchases_ms: list[float] = field(default_factory=list)
    first_start_s: float = 0.0
    restart_s: float = 0.0
    ui_after_s: float = 0.0
    started_mb: float = 0.0  # idle just after start, the readiness checks' database sessions still open
    idle_mb: float = 0.0  # idle once the embedded server has ended the idle sessions
    idle_parts: dict[str, float] = field(default_factory=dict)
    after_traffic_mb: float = 0.0  # idle again after the traffic run, its sessions ended
    after_traffic_parts: dict[str, float] = field(default_factory=dict)
    traffic_peak_mb: float = 0.0
    traffic_load: str = ""
    workers: str = ""
    others_cores: float = 0.0  # the CPU other processes of the machine used meanwhile, in cores


def measure(url: str, seconds: float, headers: dict[str, str] | None = None,
            stack: Stack | None = None) -> dict[int, WrkResult]:  # fmt: skip
    """A short warm-up, then wrk at each connection count, with the answers a bulkhead of the stack refused."""
    wrk.run(url, connections=CONNECTIONS[0], seconds=WARM_UP_SECONDS, headers=headers)
    runs = {}
    for connections in CONNECTIONS:
        before = endpoints.refusals(stack)
        run = wrk.run(url, connections=connections, seconds=seconds, headers=headers)
        endpoints.relayed(stack, "cart")  # the cart's last log lines (its bulkheads' refusals) are counted
        runs[connections] = replace(run, refused=endpoints.refusals(stack) - before)
    return runs


@retry(stop=stop_after_delay(120), wait=wait_fixed(0.05), reraise=True)
def services_ready(stack: Stack) -> None:
    """Until store, orders and cart answer /readyz with 200 (polled every 50 ms)."""
    assert stack.process.poll() is None, f"musicstore up exited; see {stack.root / 'up.log'}"
    for name in ("store", "orders", "cart"):
        requests.get(f"{stack.url(name)}/readyz", timeout=2).raise_for_status()


def timed_start(root: Path | None = None) -> tuple[TrafficStack, float]:
    """Launch `musicstore up` and time it until every service is ready."""
    started = time.monotonic()
    stack = TrafficStack(root=root)
    services_ready(stack)
    return stack, time.monotonic() - started


def parts(stack: Stack) -> dict[str, float]:
    """PSS in MB of each part of the stack: the supervisor, PostgreSQL, the process the services fork from, each
    service's gunicorn (master and workers), the traffic UI."""
    up = psutil.Process(stack.process.pid)
    found = {"supervisor (`musicstore up`)": pss(up, tree=False)}
    masters = {name: stack.master(name) for name in ("store", "orders", "cart")}
    for name, master in masters.items():
        found[name] = pss(master, tree=True)
    for child in up.children():
        command = " ".join(child.cmdline())
        if "musicstore.zygote" in command:
            found["services' shared parent (musicstore.zygote)"] = pss(child, tree=False)
        else:
            name = "traffic UI" if "musicstore.traffic" in command else "PostgreSQL"
            found[name] = found.get(name, 0.0) + pss(child, tree=True)
    return found


def client_sessions(stack: Stack) -> int:
    """The embedded PostgreSQL's client sessions (its backends whose title names a user, a database and a host)."""
    up = psutil.Process(stack.process.pid)
    return sum(1 for process in up.children(recursive=True) if CLIENT_BACKEND.match(" ".join(process.cmdline())))


@retry(stop=stop_after_delay(IDLE_SESSION_SECONDS + 60), wait=wait_fixed(1), reraise=True)
def sessions_ended(stack: Stack) -> None:
    """Until the embedded server has ended every idle session (it does after IDLE_SESSION_SECONDS)."""
    assert client_sessions(stack) == 0, "the embedded PostgreSQL still has client sessions"


def idle_memory(stack: Stack) -> tuple[float, dict[str, float]]:
    """The settled PSS of the idle stack and of its parts, once its database sessions have ended."""
    sessions_ended(stack)
    return settled_pss(stack), parts(stack)


def settled_pss(stack: Stack, *, window: int = 5, spread_mb: float = 2.0, limit_s: float = 40) -> float:
    """The tree's PSS once `window` readings a second apart lie within `spread_mb` (at most `limit_s`)."""
    readings: list[float] = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        readings.append(pss(psutil.Process(stack.process.pid), tree=True))
        if len(readings) >= window and max(readings[-window:]) - min(readings[-window:]) <= spread_mb:
            break
        time.sleep(1)  # a deliberate sampling interval
    return readings[-1]


def http_counts(stats: dict[str, Any]) -> tuple[int, int, int]:
    """HTTP requests, failed ones and journeys so far, from Locust's statistics."""
    rows = [s for s in stats["stats"] if s["name"] != "Aggregated"]
    http = [s for s in rows if not s["name"].startswith("journey: ")]
    journeys = sum(s["num_requests"] for s in rows if s["name"].startswith("journey: "))
    return sum(s["num_requests"] for s in http), sum(s["num_failures"] for s in http), journeys


def traffic_peak(stack: TrafficStack, seconds: float) -> tuple[float, str]:
    """Peak PSS in MB of the tree, read every second during a run of HTTP shoppers with no think time."""
    form = {"user_count": TRAFFIC_USERS, "spawn_rate": TRAFFIC_USERS, "user_classes": "HttpShopper",
            "think_min": "0", "think_max": "0"}  # fmt: skip
    requests.post(f"{stack.ui}/swarm", data=form, timeout=30).raise_for_status()
    stack.wait_for_users(TRAFFIC_USERS)
    up, peak = psutil.Process(stack.process.pid), 0.0
    done0, failed0, journeys0 = http_counts(stack.stats())
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        peak = max(peak, pss(up, tree=True))
        time.sleep(max(0.0, 1 - (time.monotonic() - started - elapsed)))  # one reading a second
    stats = stack.stats()
    done1, failed1, journeys1 = http_counts(stats)
    wall = time.monotonic() - started
    stack.stop_run()
    failed = f"{failed1 - failed0} failed: {failure_kinds(stats)}" if failed1 > failed0 else "none failed"
    load = (f"{TRAFFIC_USERS} HTTP shoppers, no think time, {seconds:g} s: {(done1 - done0) / wall:.0f} HTTP "
            f"requests/s ({failed}), {(journeys1 - journeys0) / wall:.1f} journeys/s")  # fmt: skip
    return peak, load


def failure_kinds(stats: dict[str, Any]) -> str:
    """The run's failed requests by status or error, most frequent first (from Locust's error list)."""
    kinds: Counter[str] = Counter()
    for error in stats.get("errors", []):
        if error["method"] != "JOURNEY":
            found = re.search(r"got (\d{3})|\((\w+Error)\)", error["error"])
            kinds[(found.group(1) or found.group(2)) if found else "other"] += error["occurrences"]
    return ", ".join(f"{kind} x {n}" for kind, n in kinds.most_common(3))


def worker_counts(stack: Stack) -> str:
    """The process model `musicstore up` runs the services with."""
    threads = LocalSettings().WEB_THREADS
    counts = {name: len(stack.workers(name)) for name in ("store", "orders", "cart")}
    same = len(set(counts.values())) == 1
    if same:
        return f"store, orders and cart each {next(iter(counts.values()))} gunicorn worker(s) x {threads} threads"
    return ", ".join(f"{name} {n} worker(s)" for name, n in counts.items()) + f", {threads} threads each"


def measure_stack(results: Results, args: argparse.Namespace) -> None:
    """Start-up, idle memory, the endpoints, purchases and memory under traffic, on one local stack."""
    first, results.first_start_s = timed_start()
    root = first.root
    first.close()
    stack, results.restart_s = timed_start(root)
    try:
        started = time.monotonic()
        stack.wait_ready()
        results.ui_after_s = results.restart_s + time.monotonic() - started
        results.workers = worker_counts(stack)
        results.started_mb = settled_pss(stack)
        results.idle_mb, results.idle_parts = idle_memory(stack)
        for endpoint in endpoints.prepare(stack):
            results.endpoints.append((endpoint, measure(endpoint.url, args.seconds, endpoint.headers, stack)))
        endpoints.restock(stack, args.purchases + 1000)
        album_id = endpoints.albums(stack)[0]["id"]
        http = requests.Session()
        for _ in range(5):  # warm-up
            endpoints.purchase(http, stack, album_id)
        results.purchases_ms = [endpoints.purchase(http, stack, album_id) for _ in range(args.purchases)]
        results.traffic_peak_mb, results.traffic_load = traffic_peak(stack, args.traffic_seconds)
        results.after_traffic_mb, results.after_traffic_parts = idle_memory(stack)
    finally:
        stack.close()
        shutil.rmtree(root, ignore_errors=True)


def cpu_use() -> tuple[float, float]:
    """CPU seconds so far of the whole machine and of this benchmark with everything it started and waited for."""
    busy = psutil.cpu_times()
    ours = os.times()
    return (busy.user + busy.nice + busy.system + busy.irq + busy.softirq,
            ours.user + ours.system + ours.children_user + ours.children_system)  # fmt: skip


def machine(load: float) -> str:
    """Date, CPU, cores, memory, the load average when the run began, Python and the tools' versions."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or platform.machine())  # fmt: skip
    memory = psutil.virtual_memory().total / 1024**3
    return (f"{date.today()}, {model} ({platform.machine()}), {os.cpu_count()} cores, {memory:.0f} GiB RAM, "
            f"load average {load:.1f} when the run began, "
            f"Python {platform.python_version()}, {wrk.version()}, gunicorn {gunicorn.__version__}, "
            f"Locust {locust.__version__}")  # fmt: skip


def main() -> None:
    """Measure, print the section and write it into bench/README.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--purchases", type=int, default=200, help="sequential purchases timed")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="length of each wrk run")
    parser.add_argument("--traffic-seconds", type=float, default=60, help="length of the traffic run")
    parser.add_argument("--no-readme", action="store_true", help="print only; leave bench/README.md as it is")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: `make bench` installs it (apt-get install wrk)")
    began, load, cpu_began = time.monotonic(), os.getloadavg()[0], cpu_use()
    results = Results()
    workers = 2 * (os.cpu_count() or 1) + 1
    with wrk.hello_world(workers) as url:
        results.hello = measure(url, args.seconds)
    measure_stack(results, args)
    with wrk.hello_world(workers) as url:  # again: did the machine's other load change during the run?
        results.hello_after = wrk.run(url, connections=CONNECTIONS[0], seconds=args.seconds)
    machine_busy, ours = (after - before for after, before in zip(cpu_use(), cpu_began, strict=True))
    wall = time.monotonic() - began
    results.others_cores = (machine_busy - ours) / wall
    section = report.section(results, machine=machine(load), hello_workers=workers, minutes=wall / 60)
    print(section)
    if not args.no_readme:
        report.write_section(README, section)
        print(f"\n(written to {README})")


if __name__ == "__main__":
    main()
