"""Where the time goes: the services sampled with py-spy under wrk, each request's cost split into groups.

Starts the whole local stack (bench/stack.py) with the data bench/endpoints.py puts in, then for the shop page, the
album API, the cart page and the admin's order list: one connection for a few seconds (the latency of a lone
request); 16 connections without the profiler (requests per second; from psutil, the CPU time each part of the stack
spent per request; from the services' /metrics, the SQL statements and calls per request); 16 connections again
while py-spy samples the workers of the services the request reaches at 100 Hz, only the thread that holds the GIL
(Python running). Each sample goes to the first group of GROUPS that a frame of its stack belongs to (a template
that touches the database counts as database), else to the owner of its innermost frame outside the standard library
(the service's code, Flask, gunicorn; tracing only by that rule, as it wraps whole requests). A group's share of the
samples times the worker's CPU per request is its cost in milliseconds per request.
Usage: PYTHONPATH=. .venv/bin/python bench/http_profile.py [--seconds 10] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psutil
import requests
from bench import endpoints, wrk
from bench.endpoints import Endpoint
from bench.stack import Stack

Frame = tuple[str, str]  # (function, file)
RATE = 100
PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")


def _in(*parts: str) -> Callable[[Frame], bool]:
    return lambda frame: any(part in frame[1] for part in parts)


def _named(part: str) -> Callable[[Frame], bool]:
    return lambda frame: part in frame[0]


# A sample goes to the first of these that any frame of its stack matches: the order puts a specific cost (a hook,
# a round trip) before the layers that call it. Files are py-spy's full file names.
GROUPS: list[tuple[str, Callable[[Frame], bool]]] = [
    ("connection check before each use (pool pre-ping: SELECT 1)", _named("do_ping")),
    ("closing the request's database session (ROLLBACK, back to the pool)", _named("_close_session")),
    ("HTTP calls to another service (requests, urllib3)", _in("/requests/", "/urllib3/")),
    ("session cookie and CSRF token (signing, Set-Cookie)", _in("/flask/sessions", "/flask_wtf/", "/itsdangerous/",
                                                                "/musicstore/common/sessions")),
    ("rate limiter (flask-limiter, every request)", _in("/flask_limiter/", "/limits/")),
    ("metrics (prometheus-client, per request and per statement)", _in("/prometheus_client/",
                                                                       "/musicstore/common/metrics")),
    ("logging (access log, JSON log lines)", _in("/logging/", "/gunicorn/glogging", "/pythonjsonlogger/",
                                                "/musicstore/common/logs", "/musicstore/common/access_log")),
    ("fault switches (OpenFeature flags)", _in("/openfeature/", "/musicstore/common/flags",
                                              "/musicstore/common/faults")),
    ("URL building (url_for)", _named("url_for")),
    ("database driver (psycopg: send, wait, rows)", _in("/psycopg/", "/psycopg_binary/")),
    ("SQLAlchemy Core (statement compile, execute, pool, result rows)", _in("/sqlalchemy/engine/", "/sqlalchemy/sql/",
                                                                         "/sqlalchemy/pool/", "/sqlalchemy/dialects/")),
    ("SQLAlchemy ORM (session, identity map, objects, attribute access)", _in("/sqlalchemy/")),
    ("templates (Jinja2 rendering, escaping, filters)", _in("/jinja2/", "/flask/templating", "/markupsafe/", ".html")),
    ("JSON (jsonify, request bodies)", _in("/json/", "/pydantic")),
]  # fmt: skip
# Tracing wraps whole requests and calls, so only its own work counts: samples whose innermost frame outside the
# standard library is OpenTelemetry's or our tracing module's. The rest goes by that frame too: every request runs
# inside gunicorn, Flask and the tracing wrapper, so only the innermost tells whose code it is.
TRACING = "tracing and propagation (OpenTelemetry, spans not recorded)"
OWNERS: list[tuple[str, Callable[[Frame], bool]]] = [
    (TRACING, _in("/opentelemetry/", "/musicstore/common/tracing")),
    ("the service's own code (views, hooks, headers)", _in("/musicstore/")),
    ("Flask and Werkzeug (request, routing, response, hook calls)", _in("/flask/", "/werkzeug/")),
    ("gunicorn in the request thread (reading and parsing the request, writing the answer)", _in("/gunicorn/")),
]
MAIN_THREAD = "gunicorn's main thread (accepting, polling keep-alive connections, handing them to threads)"


def owner(frames: list[Frame]) -> str:
    """Whose code the innermost frame outside the standard library is (a group of OWNERS, or "other")."""
    for frame in reversed(frames):
        if "site-packages" in frame[1] or "/musicstore/" in frame[1]:
            return next((name for name, matches in OWNERS if matches(frame)), "other libraries")
    return "other (standard library)"


def group_of(frames: list[Frame]) -> str:
    """The cost group a sampled stack (outermost frame first) falls in."""
    if not any("handle" in function and "/gunicorn/workers/" in file for function, file in frames):
        return MAIN_THREAD
    innermost = owner(frames)
    if innermost == TRACING:
        return TRACING
    return next((name for name, matches in GROUPS if any(matches(frame) for frame in frames)), innermost)


def read_samples(path: Path) -> Counter[str]:
    """py-spy's raw output ('frame;frame;... count' lines) counted by group."""
    counts: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [(f.split(" (", 1)[0], f.split(" (", 1)[-1]) for f in stack.split(";")]
        counts[group_of(frames)] += int(count)
    return counts


def cpu_seconds(processes: dict[str, list[psutil.Process]]) -> dict[str, float]:
    """User and system CPU time so far of each named group of processes."""
    found: dict[str, float] = {}
    for name, group in processes.items():
        total = 0.0
        for process in group:
            try:
                total += sum(process.cpu_times()[:2])
            except psutil.Error:
                continue
        found[name] = total
    return found


def parts_of(stack: Stack, services: list[str]) -> dict[str, list[psutil.Process]]:
    """The processes whose CPU a request costs: the services' workers and PostgreSQL's processes."""
    up = psutil.Process(stack.process.pid)
    postgres = [p for child in up.children() if "postgres" in child.name() for p in [child, *child.children()]]
    return {**{f"{service} worker": stack.workers(service) for service in services}, "PostgreSQL": postgres}


def counters(url: str) -> tuple[float, float]:
    """A service's statements run and calls made to other services so far (its /metrics, every worker)."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    return _total(text, "db_client_queries_total"), _total(text, "http_client_requests_total")


def _total(text: str, name: str) -> float:
    prefixes = (f"{name}{{", f"{name} ")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefixes))


def profile(stack: Stack, endpoint: Endpoint, services: list[str], seconds: float, out: Path) -> list[str]:
    """Measure and sample one endpoint; Markdown lines."""
    lone = wrk.run(endpoint.url, connections=1, seconds=min(seconds, 5), headers=endpoint.headers)
    wrk.run(endpoint.url, connections=16, seconds=2, headers=endpoint.headers)  # warm-up
    parts = parts_of(stack, services)
    before, counted = cpu_seconds(parts), {service: counters(stack.url(service)) for service in services}
    refused = endpoints.refusals(stack)
    plain = wrk.run(endpoint.url, connections=16, seconds=seconds, headers=endpoint.headers)
    endpoints.relayed(stack, "cart")  # the cart's last log lines (its bulkheads' refusals) are counted
    refused = endpoints.refusals(stack) - refused
    per_request = {name: (spent - before[name]) / plain.requests * 1000 for name, spent in cpu_seconds(parts).items()}
    work = []
    for service in services:
        (statements, calls), (statements0, calls0) = counters(stack.url(service)), counted[service]
        made = f" and {(calls - calls0) / plain.requests:.1f} calls to another service" if calls > calls0 else ""
        work.append(f"{service} {(statements - statements0) / plain.requests:.1f} SQL statements{made}")
    cpu = ", ".join(f"{name} {ms:.2f} ms" for name, ms in per_request.items())
    lines = [f"### {endpoint.name}", "",
             f"One connection: p50 {lone.p50_ms:.2f} ms. 16 connections: {plain.per_second:,.0f} req/s; CPU per "
             f"request: {cpu}; per request: {', '.join(work)} (pre-ping and ROLLBACK not counted)"
             + (f"; {refused / plain.requests:.0%} refused by a bulkhead (a page without the store's data)" if refused
                else "") + ".", ""]  # fmt: skip
    for service in services:
        samples = sample(stack, endpoint, service, seconds, out)
        total = sum(samples.values())
        lines += [f"{service} worker, {total} samples with the GIL held:", "",
                  "| cost | share | ms CPU per request |", "|---|---|---|"]  # fmt: skip
        lines += [f"| {name} | {n / total:.0%} | {n / total * per_request[f'{service} worker']:.2f} |"
                  for name, n in samples.most_common()]  # fmt: skip
        lines.append("")
    return lines


def hello_scale(seconds: float) -> list[str]:
    """For scale: the hello-world's lone-request latency and CPU per request (bench/hello.py, 5 sync workers)."""
    with wrk.hello_world(5) as url:
        lone = wrk.run(url, connections=1, seconds=min(seconds, 5))
        server = next(c for c in psutil.Process().children() if "bench.hello:app" in " ".join(c.cmdline()))
        processes = {"hello-world": [server, *server.children()]}
        before = cpu_seconds(processes)["hello-world"]
        run = wrk.run(url, connections=16, seconds=seconds)
        per_request = (cpu_seconds(processes)["hello-world"] - before) / run.requests * 1000
    return [f"For scale, the hello-world (`bench/hello.py`, gunicorn, 5 sync workers): one connection p50 "
            f"{lone.p50_ms:.2f} ms; 16 connections {run.per_second:,.0f} req/s, {per_request:.2f} ms CPU per request.",
            ""]  # fmt: skip


def sample(stack: Stack, endpoint: Endpoint, service: str, seconds: float, out: Path) -> Counter[str]:
    """py-spy on every worker of `service` while wrk loads the endpoint with 16 connections."""
    slug = endpoint.name.split()[0].strip("`").replace("/", "") or "page"
    files = [out / f"{slug}-{service}-{worker.pid}.txt" for worker in stack.workers(service)]
    command = [PY_SPY, "record", "--rate", str(RATE), "--gil", "--duration", f"{seconds:g}", "--format", "raw",
               "--full-filenames"]  # fmt: skip
    spies = [subprocess.Popen([*command, "--pid", str(worker.pid), "--output", str(file)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
             for worker, file in zip(stack.workers(service), files, strict=True)]  # fmt: skip
    wrk.run(endpoint.url, connections=16, seconds=seconds, headers=endpoint.headers)
    counts: Counter[str] = Counter()
    for spy, file in zip(spies, files, strict=True):
        spy.wait(60)
        counts += read_samples(file)
    return counts


def main() -> None:
    """Profile the shop page, the album API and the cart page; print Markdown."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10, help="length of each loaded run")
    parser.add_argument("--keep", type=Path, help="keep py-spy's raw samples in this folder")
    args = parser.parse_args()
    if not Path(PY_SPY).exists() or shutil.which("wrk") is None:
        raise SystemExit("needs py-spy (the dev dependencies: make install) and wrk (make bench installs it)")
    out = args.keep or Path(tempfile.mkdtemp(prefix="musicstore-profile-"))
    out.mkdir(parents=True, exist_ok=True)
    lines = hello_scale(args.seconds)
    stack = Stack()
    try:
        stack.wait_ready()
        _floor, shop, album, cart, orders = endpoints.prepare(stack)
        for endpoint, services in (
            (shop, ["store"]),
            (album, ["store"]),
            (cart, ["cart", "store"]),
            (orders, ["orders"]),
        ):
            lines += profile(stack, endpoint, services, args.seconds, out)
    finally:
        stack.close()
        shutil.rmtree(stack.root, ignore_errors=True)
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
