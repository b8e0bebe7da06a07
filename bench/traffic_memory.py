"""The traffic generator's cost: memory (PSS) idle, with N HTTP users, per browser user; HTTP journeys per core.

Starts the whole local stack with `musicstore up` (embedded PostgreSQL, the three services, the traffic
generator's web UI) in a temporary data directory on free ports, drives the generator through Locust's own
web API (`POST /swarm`, `GET /stats/requests`, `POST /stop`), and measures the generator's process tree
with psutil. Memory is PSS (proportional set size: shared pages split between the processes sharing them).
Usage: .venv/bin/python bench/traffic_memory.py [--settle 20] [--http-users 10] [--browsers 1,2,4]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import date
from typing import Any

import psutil
import requests
from bench.stack import Stack
from tenacity import retry, stop_after_delay, wait_fixed

MB = 1024 * 1024


def pss(process: psutil.Process, *, tree: bool) -> float:
    """PSS in MB of a process (and its descendants when `tree`)."""
    processes = [process, *(process.children(recursive=True) if tree else [])]
    total = 0
    for each in processes:
        try:
            total += each.memory_full_info().pss
        except psutil.Error:
            continue
    return total / MB


class TrafficStack(Stack):
    """The local stack, with the traffic generator's web UI driven through Locust's API."""

    def generator(self) -> psutil.Process:
        """The traffic generator's process."""
        for child in psutil.Process(self.process.pid).children():
            if "musicstore.traffic" in " ".join(child.cmdline()):
                return child
        raise RuntimeError("no traffic generator under musicstore up")

    def swarm(self, users: int, user_class: str) -> None:
        """Start a run of `users` users of one type."""
        answer = requests.post(f"{self.ui}/swarm", data={"user_count": users, "spawn_rate": users,
                                                         "user_classes": user_class}, timeout=30)  # fmt: skip
        answer.raise_for_status()

    @retry(stop=stop_after_delay(60), wait=wait_fixed(0.5), reraise=True)
    def wait_for_users(self, count: int) -> None:
        """Until the run has spawned `count` users."""
        assert self.stats()["user_count"] >= count

    def stats(self) -> dict[str, Any]:
        """Locust's current statistics."""
        body: dict[str, Any] = requests.get(f"{self.ui}/stats/requests", timeout=10).json()
        return body

    def stop_run(self) -> None:
        """Stop the run and reset the statistics."""
        requests.post(f"{self.ui}/stop", timeout=120).raise_for_status()
        requests.get(f"{self.ui}/stats/reset", timeout=10)


def journeys(stats: dict[str, Any], name: str) -> int:
    """Successful journeys of a type so far."""
    return sum(s["num_requests"] - s["num_failures"] for s in stats["stats"] if s["name"] == f"journey: {name}")


def measure(settle: float, http_users: int, browsers: list[int]) -> list[tuple[str, str]]:
    """Run the measurements; rows of (what, result)."""
    stack = TrafficStack(TRAFFIC_MAX_BROWSERS="8", TRAFFIC_THINK_MIN="1", TRAFFIC_THINK_MAX="3")
    rows: list[tuple[str, str]] = []
    try:
        stack.wait_ready()
        generator = stack.generator()
        time.sleep(3)  # a deliberate settling pause before the idle reading
        idle = pss(generator, tree=True)
        rows.append(("generator idle (web UI, no users)", f"{idle:.0f} MB"))

        stack.swarm(http_users, "HttpShopper")
        time.sleep(settle)  # a deliberate measuring period, not a wait for a condition
        rows.append((f"generator with {http_users} HTTP shoppers", f"{pss(generator, tree=True):.0f} MB"))
        stack.stop_run()

        for count in browsers:
            stack.swarm(count, "BrowserShopper")
            time.sleep(settle)  # browsers start and shop for a while
            total = pss(generator, tree=True)
            per_browser = (total - pss(generator, tree=False)) / count
            result = f"{total:.0f} MB ({per_browser:.0f} MB per browser)"
            rows.append((f"generator with {count} browser shopper(s)", result))
            stack.stop_run()

        busy_users = 40
        requests.post(f"{stack.ui}/swarm", data={"user_count": busy_users, "spawn_rate": busy_users,
                                                  "user_classes": "HttpShopper", "think_min": "0", "think_max": "0"},
                      timeout=30).raise_for_status()  # fmt: skip
        stack.wait_for_users(busy_users)
        cpu0, done0, wall0 = sum(generator.cpu_times()[:2]), journeys(stack.stats(), "http shopper"), time.monotonic()
        time.sleep(settle)  # the measuring period
        cpu1, done1, wall1 = sum(generator.cpu_times()[:2]), journeys(stack.stats(), "http shopper"), time.monotonic()
        stack.stop_run()
        per_second, busy = (done1 - done0) / (wall1 - wall0), (cpu1 - cpu0) / (wall1 - wall0)
        rows.append((f"HTTP shopper journeys with {busy_users} users, no think time",
                     f"{per_second:.1f}/s, generator at {busy:.0%} of a core"))  # fmt: skip
        rows.append(("HTTP shopper journeys per second of one core (generator)", f"{per_second / max(busy, 0.01):.0f}"))
    finally:
        stack.close()
    return rows


def main() -> None:
    """Measure and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settle", type=float, default=20, help="seconds each load runs before it is measured")
    parser.add_argument("--http-users", type=int, default=10)
    parser.add_argument("--browsers", default="1,2,4", help="browser shopper counts to measure")
    args = parser.parse_args()
    rows = measure(args.settle, args.http_users, [int(n) for n in args.browsers.split(",")])
    print(f"{date.today()}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}:\n")
    print("| what | result |\n|---|---|")
    for what, result in rows:
        print(f"| {what} | {result} |")


if __name__ == "__main__":
    main()
