"""Where a purchase's time goes: sequential purchases on the local stack, timed, with each service's share.

Starts the whole local stack (bench/stack.py, as `make bench` does), restocks, makes a few purchases to warm up,
then times N sequential purchases with bench/endpoints.py's `purchase` (add to a new cart, pay with a good card and
a new idempotency key; 201, order made). From the services' /metrics, read before and after (every worker): the
mean time each service spent serving its part (http_request_duration_seconds by endpoint), the mean time of each
call the cart made (http_client_request_duration_seconds by route), and the SQL statements per purchase and their
mean time on each database. With --spy, py-spy samples the cart's workers during the timed purchases (wall clock,
idle threads left out) and the busiest frames are printed.
Usage: PYTHONPATH=. .venv/bin/python bench/purchase_profile.py [--purchases 200] [--spy]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import requests
from bench import endpoints
from bench.http_profile import PY_SPY
from bench.stack import Stack

SERVICES = ("cart", "store", "orders")
Series = dict[tuple[str, str], float]  # (metric and labels, "sum" or "count") -> value


def scrape(stack: Stack, service: str) -> Series:
    """The sums and counts of the histograms and counters a purchase moves, summed over the service's workers."""
    found: Series = defaultdict(float)
    for line in requests.get(f"{stack.url(service)}/metrics", timeout=10).text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        metric, _, labels = name.partition("{")
        for suffix in ("_sum", "_count"):
            if metric.endswith(suffix) and "duration_seconds" in metric:
                found[(metric.removesuffix(suffix) + "{" + _keep(labels), suffix[1:])] += float(value)
        if metric == "db_client_queries_total":
            found[("statements{" + _keep(labels), "count")] += float(value)
    return found


def _keep(labels: str) -> str:
    """The labels that tell the steps apart (not the caller or the synthetic mark)."""
    pairs = [pair for pair in labels.rstrip("}").split(",") if pair and not pair.startswith(("caller", "synthetic"))]
    return ",".join(pairs) + "}"


def moved(before: Series, after: Series, purchases: int) -> list[str]:
    """Per purchase: each histogram's calls and mean milliseconds, each counter's count, for what moved."""
    lines = []
    for (series, kind), value in sorted(after.items()):
        if kind != "count" or value - before.get((series, kind), 0.0) == 0:
            continue
        count = value - before.get((series, kind), 0.0)
        total = after.get((series, "sum"), 0.0) - before.get((series, "sum"), 0.0)
        mean = (
            f", mean {total / count * 1000:6.2f} ms, {total / purchases * 1000:6.2f} ms per purchase" if total else ""
        )
        lines.append(f"  {count / purchases:5.2f} per purchase  {series}{mean}")
    return lines


def spy(stack: Stack, service: str, seconds: float, out: Path) -> list[subprocess.Popen[bytes]]:
    """py-spy on each worker of a service, wall clock (threads waiting on I/O count; idle ones do not)."""
    command = [PY_SPY, "record", "--rate", "200", "--duration", f"{seconds:g}", "--format", "raw", "--full-filenames"]
    return [subprocess.Popen([*command, "--pid", str(worker.pid), "--output", str(out / f"{service}-{worker.pid}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for worker in stack.workers(service)]  # fmt: skip


def hot_frames(out: Path, service: str, top: int = 40) -> list[str]:
    """The frames that the most samples of a service's request threads were in (inclusive), with their share."""
    inclusive: Counter[str] = Counter()
    total = 0
    for file in out.glob(f"{service}-*.txt"):
        for line in file.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if "Flask.wsgi_app" not in stack:
                continue  # the request threads only
            total += int(count)
            for frame in set(stack.split(";")):
                inclusive[frame.replace(str(Path.cwd()), ".")] += int(count)
    return [f"  {n / total:4.0%}  {frame}" for frame, n in inclusive.most_common(top)] if total else []


def main() -> None:
    """Time sequential purchases on a fresh local stack and print where their time went."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--purchases", type=int, default=200)
    parser.add_argument("--spy", default="", help="services whose workers py-spy samples meanwhile (cart,store)")
    parser.add_argument("--keep", type=Path, help="keep py-spy's raw samples in this folder")
    args = parser.parse_args()
    stack = Stack()
    out = args.keep or Path(tempfile.mkdtemp(prefix="purchase-profile-"))
    out.mkdir(parents=True, exist_ok=True)
    try:
        stack.wait_ready()
        endpoints.restock(stack, args.purchases + 100)
        album_id = endpoints.albums(stack)[0]["id"]
        http = requests.Session()
        for _ in range(10):  # warm-up: every worker's connections, caches and first-call imports
            endpoints.purchase(http, stack, album_id)
        before = {service: scrape(stack, service) for service in SERVICES}
        spied = [service for service in args.spy.split(",") if service]
        spies = [p for service in spied for p in spy(stack, service, args.purchases * 0.1 + 5, out)]
        times = [endpoints.purchase(http, stack, album_id) for _ in range(args.purchases)]
        for process in spies:
            process.wait(120)
        after = {service: scrape(stack, service) for service in SERVICES}
    finally:
        stack.close()
        shutil.rmtree(stack.root, ignore_errors=True)
    cuts = statistics.quantiles(times, n=100)
    print(f"{args.purchases} sequential purchases: p50 {cuts[49]:.1f} ms, p99 {cuts[98]:.1f} ms, "
          f"min {min(times):.1f}, max {max(times):.1f}, mean {statistics.fmean(times):.1f}")  # fmt: skip
    for service in SERVICES:
        print(f"{service}:")
        print("\n".join(moved(before[service], after[service], args.purchases)))
    for service in spied:
        print(f"{service} workers, wall clock (inclusive share of the request threads' samples):")
        print("\n".join(hot_frames(out, service)))
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
