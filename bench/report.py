"""The Markdown section `make bench` prints and keeps in bench/README.md, with #16's targets beside each number."""

from __future__ import annotations

import re
import statistics
from pathlib import Path
from typing import TYPE_CHECKING

from bench.wrk import WrkResult

if TYPE_CHECKING:
    from bench.http_bench import Results

HEADING = "## HTTP throughput and memory (`make bench`)"
# #16's targets
PURCHASE_P50_MS, PURCHASE_P99_MS = 25.0, 75.0
IDLE_MB, TRAFFIC_MB = 300.0, 600.0
START_S = 3.0

METHOD = """\
```sh
make bench      # installs wrk from Debian's packages when missing; about 6 minutes
```

`bench/http_bench.py`, in one run: wrk (2 threads, `--latency`, `--timeout 10s` so that slow answers count in the
percentiles instead of as timeouts; a 2 s warm-up, then 10 s at 16 and 10 s at 64 connections) against
`bench/hello.py`, a Flask hello-world under gunicorn with 2 x cores + 1 sync workers, the ceiling (measured again at
the end, so that a change in the machine's other load shows), then against the whole local stack as `musicstore up`
runs it by default (`bench/stack.py`: a temporary data directory, free loopback ports; access logs on, tracing
export off). The store's `/healthz` runs first, without a target: it does nothing but what every answer does, so its
share is about the most any endpoint can reach. Pages are asked for with the `localhost` Host header, as a browser
would, so they are not redirected. Before the runs, `bench/endpoints.py` makes 100 orders through the order API and
fills a cart with three albums through the cart's JSON API (sent as `X-Cart-Id`); the order list is read with the
admin's HTTP Basic credentials. A purchase is add-to-cart and a payment with a good card and a new idempotency key
(201, order made) over HTTP with `requests`, one after another, `PAYMENT_LATENCY_MS` 0. Memory is the PSS of
`musicstore up`'s process tree (psutil), read once five readings a second apart agree within 2 MB: idle just after
start, and idle once the embedded PostgreSQL has ended the sessions the start-up's readiness checks left idle (it ends
a session idle for a minute: the target's reading); the peak of readings every second during a one-minute run of 40
HTTP shoppers without think time started through the traffic UI's Locust API; and idle again once that run's
sessions have ended. Start-up is from launching `musicstore up` to /readyz answering 200 on store, orders and cart
(polled every 50 ms): once on a fresh data directory, then again on the same one (an installed tree, as a second
`make run` finds it).
"""


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def yes(met: bool) -> str:
    """A table's verdict."""
    return "yes" if met else "**no**"


def section(results: Results, *, machine: str, hello_workers: int, minutes: float) -> str:
    """The whole section: heading, method, machine, the two tables."""
    hello16, hello64 = results.hello[16], results.hello[64]
    again = f"{results.hello_after.per_second:,.0f}" if results.hello_after else "not measured"
    lines = [HEADING, "", METHOD, f"{machine}; {results.workers} (`musicstore up`'s defaults); the run took "
             f"{minutes:.1f} min, while other processes used {results.others_cores:.2f} cores on average; the "
             f"hello-world at 16 connections again at its end: {again} req/s:", ""]  # fmt: skip
    lines += ["| endpoint | req/s at 16 | share of hello-world (target) | p99 at 64 (target) | met | p50 at 16 | "
              "req/s at 64 |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    lines.append(f"| hello-world, {hello_workers} sync workers (ceiling) | {hello16.per_second:,.0f} | 100% | "
                 f"{hello64.p99_ms:.1f} ms | | {hello16.p50_ms:.2f} ms | {hello64.per_second:,.0f} |")  # fmt: skip
    problems = _problems("hello-world", results.hello)
    for endpoint, runs in results.endpoints:
        at16, at64 = runs[16], runs[64]
        share = at16.complete_per_second / hello16.per_second
        rate = f"{at16.complete_per_second:,.0f}" + ("\\*" if at16.refused else "")
        if endpoint.share_target is None or endpoint.p99_target_ms is None:  # a reference row: no target
            lines.append(f"| {endpoint.name} | {rate} | {share:.0%} | {at64.p99_ms:.0f} ms | | {at16.p50_ms:.1f} ms | "
                         f"{at64.per_second:,.0f} |")  # fmt: skip
        else:
            verdict = f"{yes(share >= endpoint.share_target)} / {yes(at64.p99_ms < endpoint.p99_target_ms)}"
            lines.append(f"| {endpoint.name} | {rate} | {share:.0%} (≥ {endpoint.share_target:.0%}) | "
                         f"{at64.p99_ms:.0f} ms (< {endpoint.p99_target_ms:.0f} ms) | {verdict} | "
                         f"{at16.p50_ms:.1f} ms | {at64.per_second:,.0f} |")  # fmt: skip
        problems += _problems(endpoint.name, runs)
    for note in [*_refusals(results), *(problems or ["Every wrk run: no socket errors, every answer 2xx or 3xx."])]:
        lines += ["", note]
    lines.append("")
    lines += _other_table(results)
    return "\n".join(lines) + "\n"


def _refusals(results: Results) -> list[str]:
    """A note on the answers a bulkhead refused, which wrk counts as successes."""
    notes = []
    for endpoint, runs in results.endpoints:
        refused = [f"{run.refused / run.requests:.0%} of {run.requests:,} at {n}" for n, run in runs.items()
                   if run.refused]  # fmt: skip
        if refused:
            notes.append(f"\\* {endpoint.name}: complete pages only. A bulkhead refused the store call of "
                         f"{' and '.join(refused)} connections (each answered 200 with a \"can't reach the store\" "
                         "panel, a few ms); those are left out of req/s but not out of the percentiles.")  # fmt: skip
    return notes


def _problems(name: str, runs: dict[int, WrkResult]) -> list[str]:
    found = []
    for connections, run in runs.items():
        if run.socket_errors or run.bad_answers:
            found.append(f"{name} at {connections} connections: {run.socket_errors} socket errors, "
                         f"{run.bad_answers} answers not 2xx/3xx.")  # fmt: skip
    return found


def _other_table(results: Results) -> list[str]:
    times = results.purchases_ms
    p50, p99 = statistics.median(times), percentile(times, 0.99)
    idle_parts = ", ".join(f"{name} {mb:.0f}" for name, mb in results.idle_parts.items())
    after_parts = ", ".join(f"{name} {mb:.0f}" for name, mb in results.after_traffic_parts.items())
    rows = [
        (f"purchase over HTTP (add to cart, pay, order made), {len(times)} sequential",
         f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (max {max(times):.1f})",
         f"p50 < {PURCHASE_P50_MS:.0f} ms, p99 < {PURCHASE_P99_MS:.0f} ms",
         yes(p50 < PURCHASE_P50_MS and p99 < PURCHASE_P99_MS)),
        ("memory, whole stack idle (PSS), its idle database sessions ended",
         f"{results.idle_mb:.1f} MB ({idle_parts}); just after start {results.started_mb:.0f} MB",
         f"≤ {IDLE_MB:.0f} MB", yes(results.idle_mb <= IDLE_MB)),
        (f"memory, peak during HTTP traffic ({results.traffic_load})", f"{results.traffic_peak_mb:.0f} MB",
         f"≤ {TRAFFIC_MB:.0f} MB", yes(results.traffic_peak_mb <= TRAFFIC_MB)),
        ("memory, idle again after that run, its database sessions ended",
         f"{results.after_traffic_mb:.0f} MB ({after_parts})", "", ""),
        ("start-up, installed tree (second start of a data directory) to all /readyz 200",
         f"{results.restart_s:.1f} s (traffic UI answering at {results.ui_after_s:.1f} s)", f"≤ {START_S:.0f} s",
         yes(results.restart_s <= START_S)),
        ("start-up, fresh data directory (initdb, migrations, demo catalog) to all /readyz 200",
         f"{results.first_start_s:.1f} s", f"(≤ {START_S:.0f} s)", yes(results.first_start_s <= START_S)),
    ]  # fmt: skip
    return ["| what | result | target (#16) | met |", "|---|---|---|---|",
            *(f"| {what} | {result} | {target} | {met} |" for what, result, target, met in rows)]  # fmt: skip


def write_section(readme: Path, text: str) -> None:
    """Put the section into the README in place of the earlier one (up to the next `## ` heading), else at its end."""
    current = readme.read_text()
    pattern = re.compile(r"^## HTTP throughput and memory.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text + "\n", current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    readme.write_text(updated.rstrip("\n") + "\n")
