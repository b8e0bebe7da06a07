"""The end of a run: a JSON summary (journeys by type, requests, orders made) and a short table."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from locust.env import Environment
from locust.stats import PERCENTILES_TO_REPORT, RequestStats, StatsCSV, StatsEntry

from musicstore.traffic.ledger import Ledger

NOT_HTTP = frozenset({"JOURNEY", "BROWSER"})
COLUMNS = ("started", "verified", "sold_out", "verified_fault", "failed", "interrupted", "orders")


def summary(ledger: Ledger, stats: RequestStats, *, exit_code: int) -> dict[str, Any]:
    """What the run came to, as JSON."""
    http = [entry for (_, method), entry in stats.entries.items() if method not in NOT_HTTP]
    requests = StatsEntry(stats, "HTTP requests", "", use_response_times_cache=False)
    for entry in http:
        requests.extend(entry)
    journeys = ledger.as_json()
    return {
        "finished_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "exit_code": exit_code,
        "journeys": journeys,
        "journeys_total": {
            name: sum(int(kind[name]) for kind in journeys.values())
            for name in ("started", "verified", "sold_out", "verified_fault", "failed", "interrupted")
        },
        "orders_made": sum(int(kind["orders"]) for kind in journeys.values()),
        "requests": {
            "total": requests.num_requests,
            "failed": requests.num_failures,
            "median_ms": requests.get_response_time_percentile(0.5) if requests.num_requests else 0,
            "p95_ms": requests.get_response_time_percentile(0.95) if requests.num_requests else 0,
        },
    }


def table(body: dict[str, Any]) -> str:
    """The journeys of a summary as a short table, with the reasons of failures under it."""
    width = max([len("journey"), *(len(kind) for kind in body["journeys"])])
    sizes = {c: max(11, len(c)) for c in COLUMNS}
    lines = [f"{'journey':<{width}}  " + "  ".join(f"{c.replace('_', ' '):>{sizes[c]}}" for c in COLUMNS)]
    for kind, counts in body["journeys"].items():
        lines.append(f"{kind:<{width}}  " + "  ".join(f"{counts[c]:>{sizes[c]}}" for c in COLUMNS))
    totals = {**body["journeys_total"], "orders": body["orders_made"]}
    lines.append(f"{'all':<{width}}  " + "  ".join(f"{totals[c]:>{sizes[c]}}" for c in COLUMNS))
    requests = body["requests"]
    lines.append(f"requests: {requests['total']} ({requests['failed']} failed)")
    for kind, counts in body["journeys"].items():
        for failure in counts["failures"][:5]:
            lines.append(f"failed {kind} x{failure['count']}: {failure['reason']}")
    return "\n".join(lines)


def write(path: str, body: dict[str, Any]) -> None:
    """Write the summary as JSON."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(body, indent=2) + "\n")


def write_final_csv(environment: Environment, prefix: str) -> None:
    """Write Locust's CSV files once more at the end: its own writer runs every second and misses the last one."""
    writer = StatsCSV(environment, PERCENTILES_TO_REPORT)
    for suffix, write in (("_stats.csv", writer.requests_csv), ("_failures.csv", writer.failures_csv),
                          ("_exceptions.csv", writer.exceptions_csv)):  # fmt: skip
        with open(prefix + suffix, "w", newline="") as out:
            write(csv.writer(out))
