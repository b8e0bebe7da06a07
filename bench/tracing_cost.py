"""What tracing costs: the store's GET /api/album/{id} with no instrumentation at all, with tracing off (no
OTEL_EXPORTER_OTLP_ENDPOINT: propagation only) and with tracing on (spans exported over OTLP/HTTP to a local sink).

Three stores run at once under gunicorn with the options of `musicstore serve` (one worker, eight threads) on one
embedded PostgreSQL 18: "no instrumentation" serves bench/untraced_store.py (the store with init_tracing replaced
by nothing, so not even the propagation middleware nor the requests instrumentation is set up); "tracing off" and
"tracing on" are the store as shipped, the latter exporting to a sink process on loopback that accepts every
export and throws it away. A Python load loop (http.client, keep-alive; each request with a traceparent and the
synthetic baggage, as the traffic generator sends them) measures each in turn, one connection and then four,
in many short slices, interleaved so that the machine's other load falls on all three alike. Then the propagation
middleware (all that tracing off adds to a request the store serves) is timed on its own, in process.
Usage: PYTHONPATH=. .venv/bin/python bench/tracing_cost.py [--seconds 1] [--rounds 40]
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import timeit
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.live import LiveService

from musicstore import cli
from musicstore.common.embedded_pg import EmbeddedPostgres, free_port
from musicstore.store import prepare
from musicstore.store.settings import StoreSettings

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("no instrumentation", "tracing off", "tracing on")
BAGGAGE = "synthetic_request=true"
SECRET = secrets.token_urlsafe(16)  # the stores' secret key, admin password and token: nobody logs in


class Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that accepts every export and keeps nothing; GET /count says how many it took."""

    exports = 0
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Sink.exports += 1
        self._answer(b"", "application/x-protobuf")  # an empty ExportTraceServiceResponse

    def do_GET(self) -> None:
        self._answer(str(Sink.exports).encode(), "text/plain")

    def _answer(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class GunicornStore(LiveService):
    """The store under gunicorn with `musicstore serve`'s options, serving a WSGI app of the benchmark's choice."""

    def start(self, timeout: float = 60.0) -> None:
        """Start gunicorn and wait until /healthz answers."""
        command = [*cli.gunicorn_command("store", f"127.0.0.1:{self.port}")[:-1], self.wsgi]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, env={**os.environ, **self.env}, cwd=ROOT, stdout=log,
                                            stderr=subprocess.STDOUT)  # fmt: skip
        self._wait_healthy(timeout)


def load(port: int, path: str, seconds: float, connections: int) -> tuple[float, list[float]]:
    """Requests per second and every latency (ms) of `connections` keep-alive clients for `seconds`, each request
    with a traceparent and baggage of its own (so tracing off has something to pass on, tracing on to record)."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    deadline = time.perf_counter() + seconds

    def client(mine: list[float]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.perf_counter() < deadline:
            # As the traffic generator sends them: a trace of its own for each request, marked synthetic.
            headers = {"traceparent": f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01", "baggage": BAGGAGE}
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
            mine.append((time.perf_counter() - started) * 1000)
        connection.close()

    threads = [threading.Thread(target=client, args=(mine,)) for mine in latencies]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    every = [value for mine in latencies for value in mine]
    return len(every) / elapsed, every


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@contextmanager
def database(root: Path) -> Iterator[str]:
    """An embedded PostgreSQL with the store's schema and demo catalog; its URL."""
    server = EmbeddedPostgres(root / "pg", port=free_port(), user="bench", password=secrets.token_hex(12))
    with (root / "postgres.log").open("wb") as log:
        server.start(output=log)
        try:
            server.create_database("tracing_bench")
            url = server.url("tracing_bench")
            prepare(StoreSettings(DATABASE_URL=url, DATA_DIR=root / "var", SECRET_KEY=SECRET, ADMIN_PASSWORD=SECRET))
            yield url
        finally:
            server.stop()


@contextmanager
def sink() -> Iterator[str]:
    """The OTLP sink in a process of its own (it must not take the load loop's interpreter); its endpoint."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.tracing_cost", "--sink", str(port)], cwd=ROOT)
    try:
        service = LiveService("sink", port, {}, Path(os.devnull))
        service.process = process
        service._wait_healthy(30)  # the sink answers any GET, /healthz too
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def stores(root: Path, url: str, endpoint: str) -> Iterator[GunicornStore]:
    """The three stores, not started yet."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    base = {**clean, "MODE": "production", "SECRET_KEY": SECRET, "ADMIN_PASSWORD": SECRET, "SERVICE_TOKEN": SECRET,
            "DATABASE_URL": url, "DATA_DIR": str(root / "var"), "LOG_FORMAT": "json",
            "PYTHONPATH": str(ROOT)}  # fmt: skip
    wsgi = {"no instrumentation": "bench.untraced_store:app", "tracing off": "musicstore.store.wsgi:app",
            "tracing on": "musicstore.store.wsgi:app"}  # fmt: skip
    for variant in VARIANTS:
        env = {**base, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint} if variant == "tracing on" else base
        name = variant.replace(" ", "-")
        yield GunicornStore(wsgi[variant], free_port(), env, root / f"store-{name}.log")


def main() -> None:
    """Measure and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1, help="seconds of one slice of load")
    parser.add_argument("--rounds", type=int, default=40, help="slices per variant and concurrency")
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)  # internal: run the OTLP sink on this port
    args = parser.parse_args()
    if args.sink:
        ThreadingHTTPServer(("127.0.0.1", args.sink), Sink).serve_forever()
        return
    root = Path(tempfile.mkdtemp(prefix="musicstore-bench-tracing-"))
    os.chmod(root, 0o755)  # noqa: S103 - as root, PostgreSQL runs as another user who must reach it
    results: dict[tuple[str, int], list[tuple[float, list[float]]]] = {}
    with ExitStack() as running:
        url = running.enter_context(database(root))
        endpoint = running.enter_context(sink())
        servers = dict(zip(VARIANTS, stores(root, url, endpoint), strict=True))
        for server in servers.values():
            server.start()
            running.callback(server.stop)
        path = "/api/album/1"
        for server in servers.values():
            load(server.port, path, 2, 4)  # warm up: connections, caches, the first spans
        for connections in (1, 4):
            for round_ in range(args.rounds):
                # Short slices, the variants in turn and in a rotating order: a change in the machine's other load
                # falls on all three alike.
                order = VARIANTS[round_ % 3 :] + VARIANTS[: round_ % 3]
                for variant in order:
                    measured = load(servers[variant].port, path, args.seconds, connections)
                    results.setdefault((variant, connections), []).append(measured)
        exported = exports(endpoint)
    print(table(results, args))
    print(f"\nThe sink took {exported} OTLP exports from the traced store.\n")
    print(middleware_cost())


def middleware_cost(calls: int = 200_000) -> str:
    """What tracing off adds to each request, measured in process: the propagation middleware around a WSGI app
    that does nothing, per call, with and without a caller's traceparent and baggage."""
    from musicstore.common.tracing import _Propagation  # the middleware itself is what is measured

    def nothing(_environ: dict[str, Any], start_response: Any) -> list[bytes]:
        return []

    wrapped = _Propagation(nothing)  # type: ignore[arg-type]
    bare: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/album/1"}
    traced = {**bare, "HTTP_TRACEPARENT": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
              "HTTP_BAGGAGE": "synthetic_request=true"}  # fmt: skip
    rows = []
    for label, app, environ in [("no middleware", nothing, bare), ("middleware, no trace headers", wrapped, bare),
                                ("middleware, traceparent and baggage", wrapped, traced)]:  # fmt: skip
        best = min(timeit.repeat(lambda a=app, e=environ: a(e, None), number=calls, repeat=5))  # type: ignore[misc]
        rows.append(f"| {label} | {best / calls * 1e6:.2f} |")
    return "\n".join(["| in process, per request | µs |", "|---|---|", *rows])


def exports(endpoint: str) -> int:
    """How many exports the sink has taken."""
    connection = http.client.HTTPConnection(endpoint.removeprefix("http://"), timeout=10)
    connection.request("GET", "/count")
    return int(connection.getresponse().read())


def table(results: dict[tuple[str, int], list[tuple[float, list[float]]]], args: argparse.Namespace) -> str:
    """The results as Markdown: per variant and concurrency, requests per second and latency percentiles."""
    lines = [
        f"{date.today()}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"GET /api/album/1, {args.rounds} slices of {args.seconds:g} s per variant and concurrency, interleaved:",
        "",
        "| variant | connections | requests/s: median of slices (middle half) | p50 ms | p99 ms |",
        "|---|---|---|---|---|",
    ]
    for (variant, connections), runs in sorted(
        results.items(), key=lambda item: (item[0][1], VARIANTS.index(item[0][0]))
    ):
        rates = [rate for rate, _ in runs]
        every = [value for _, values in runs for value in values]
        lines.append(
            f"| {variant} | {connections} | {statistics.median(rates):.0f} "
            f"({percentile(rates, 0.25):.0f}-{percentile(rates, 0.75):.0f}) | "
            f"{statistics.median(every):.2f} | {percentile(every, 0.99):.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
