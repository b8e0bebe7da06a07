"""The service map: the call matrix, live, from the services' own /metrics (DESIGN.md, "Observability").

Each scrape round reads every pod of store, cart and orders (prometheus-client's multiprocess mode: one scrape
gives all of a pod's workers). A pod's text becomes counts per edge, from three kinds of series:

- `out`: the caller's `http_client_requests_total{peer}` and its duration histogram (service → service);
- `in`: the callee's `http_requests_total{caller}` and its histogram: who called, as the callee saw it;
- `db`: `db_client_queries_total{db}` and its histogram (service → database).

An edge between two services that both sides count is counted once, from the caller's outbound series; the
callee's `caller` label gives the edges no caller counted: browsers, the traffic generator, anything else, and a
service that called without the shared client. Health checks and scrapes (`/healthz`, `/readyz`, `/metrics`) are
the platform looking at a service, not calls of the shop: probes, Prometheus, this map's own scrapes, and the
pings a service's /readyz makes of those it reports on are left out, on both sides.

`requests` is the sum over the pods answering now of their counts since they started. `rate` is per second over
the window (the last few scrapes, each pod from its oldest scrape in it; 0 after a single scrape); `error_ratio`
(5xx, timeouts and connection errors) and `p95_ms` are of the window's calls, or of every call since start when
the window had none. A count that went down is a pod that restarted: it counts from zero again.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from prometheus_client.parser import text_string_to_metric_families

from musicstore.common.calls import service_edges

log = logging.getLogger(__name__)

SERVICES = ("store", "cart", "orders")
CALLERS = frozenset({*SERVICES, "traffic", "browser", "other"})
DATABASES = ("postgres", "cart-db", "orders-db")
# Always on the map: where calls come from, and the services scraped. The others appear once something reports them.
NODE_ORDER = ("browser", "traffic", "other", *SERVICES, *DATABASES)
ALWAYS = ("browser", "traffic", *SERVICES)
NOT_CALLS = frozenset({"healthz", "readyz", "metrics"})
# Outbound calls without an answer; "error" is also a failed query's outcome.
FAILED_CALLS = frozenset({"timeout", "error"})
INF = float("inf")
USER_AGENT = "musicstore-traffic"  # DESIGN.md: every caller names itself; the traffic generator reads /metrics

Key = tuple[str, str, str]  # (kind: "out" | "in" | "db", from, to)
Pods = dict[str, dict[str, "str | None"]]  # service → pod address → its /metrics text (None: no answer)


@dataclass
class Tally:
    """Calls on one edge: how many, how many failed, and the cumulative latency buckets (upper bound → count)."""

    requests: float = 0.0
    errors: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        """Add another tally's counts to this one."""
        self.requests += other.requests
        self.errors += other.errors
        for bound, count in other.buckets.items():
            self.buckets[bound] = self.buckets.get(bound, 0.0) + count

    def since(self, earlier: Tally | None) -> Tally:
        """The calls made after `earlier` (all of them when the counts went down: the pod restarted)."""
        if earlier is None or self.requests < earlier.requests or self.errors < earlier.errors:
            return Tally(self.requests, self.errors, dict(self.buckets))
        buckets = {bound: count - earlier.buckets.get(bound, 0.0) for bound, count in self.buckets.items()}
        if any(count < 0 for count in buckets.values()):
            return Tally(self.requests, self.errors, dict(self.buckets))
        return Tally(self.requests - earlier.requests, self.errors - earlier.errors, buckets)


Counts = dict[Key, Tally]


def parse(service: str, text: str) -> Counts:
    """One pod's /metrics text as tallies per edge (labels outside the metrics contract are left out)."""
    counts: Counts = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found = _edge_of(service, sample.name, sample.labels)
            if found is None:
                continue
            key, status = found
            tally = counts.setdefault(key, Tally())
            if sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                tally.buckets[bound] = tally.buckets.get(bound, 0.0) + sample.value
            else:
                tally.requests += sample.value
                tally.errors += sample.value if _failed(status) else 0.0
    return counts


def _edge_of(service: str, name: str, labels: dict[str, str]) -> tuple[Key, str] | None:
    """The edge a sample counts, and its outcome (status or outcome label); None when it is not one of ours."""
    if name in ("http_client_requests_total", "http_client_request_duration_seconds_bucket"):
        peer = labels.get("peer", "")
        if peer not in SERVICES or _looking(labels.get("route", "")):
            return None
        return ("out", service, peer), labels.get("status", "")
    if name in ("http_requests_total", "http_request_duration_seconds_bucket"):
        if "caller" not in labels or _looking(labels.get("endpoint", "")):
            return None
        caller = labels["caller"] if labels["caller"] in CALLERS else "other"
        return ("in", caller, service), labels.get("status", "")
    if name in ("db_client_queries_total", "db_client_query_duration_seconds_bucket"):
        db = labels.get("db", "")
        return (("db", service, db), labels.get("outcome", "")) if db in DATABASES else None
    return None


def _looking(path: str) -> bool:
    """A health check or a scrape (`/healthz`, `/readyz`, `/metrics`, under any prefix)."""
    return path.rsplit("/", 1)[-1] in NOT_CALLS


def _failed(status: str) -> bool:
    return status.startswith("5") or status in FAILED_CALLS


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """The q-quantile of cumulative buckets, interpolated linearly within its bucket as Prometheus does."""
    bounds = sorted(buckets)
    if not bounds or bounds[-1] != INF or buckets[INF] <= 0:
        return None
    rank = q * buckets[INF]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == INF:
                return lower  # above the highest finite bound: that bound, as histogram_quantile answers
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return None


@dataclass
class _Edge:
    """One edge's numbers summed over the pods: since start, over the window, and its rate."""

    total: Tally = field(default_factory=Tally)
    recent: Tally = field(default_factory=Tally)
    rate: float = 0.0


class ServiceMap:
    """The last few scrapes of every pod, and the map they make."""

    def __init__(self, *, window: float, interval: float, declared: frozenset[tuple[str, str]] | None = None) -> None:
        self.declared = frozenset(service_edges()) if declared is None else declared
        self.keep = max(2, round(window / interval) + 1)  # scrapes per pod: the window's, and the one before it
        self.history: dict[tuple[str, str], deque[tuple[float, Counts]]] = {}
        self.answering: dict[str, set[str]] = {}  # service → its pods that answered the last scrape
        self.lock = threading.Lock()

    def record(self, pods: Pods, at: float) -> None:
        """One scrape round: for each service, each pod's /metrics text (None: it did not answer)."""
        parsed = {
            (service, pod): counts
            for service, texts in pods.items()
            for pod, text in texts.items()
            if (counts := _parsed(service, pod, text)) is not None
        }
        with self.lock:
            for gone in set(self.history) - {(service, pod) for service, texts in pods.items() for pod in texts}:
                del self.history[gone]
            for key, counts in parsed.items():
                self.history.setdefault(key, deque(maxlen=self.keep)).append((at, counts))
            self.answering = {service: {pod for s, pod in parsed if s == service} for service in pods}

    def as_json(self) -> dict[str, list[dict[str, object]]]:
        """The map as DESIGN.md shapes it: {"nodes": [{id, up}], "edges": [{from, to, requests, rate, ...}]}."""
        with self.lock:
            edges = self._edges()
            up = {s: bool(self.answering.get(s)) for s in SERVICES}
        ids = set(ALWAYS) | {end for _, source, target in edges for end in (source, target)}
        for (kind, _, target), numbers in edges.items():
            if kind == "db":
                up[target] = up.get(target, True) and not _all_failed(numbers.recent)
        return {
            "nodes": [{"id": n, "up": up.get(n, True)} for n in NODE_ORDER if n in ids],
            "edges": [self._edge_json(source, target, edges[kind, source, target])
                      for kind, source, target in sorted(edges, key=lambda k: (k[1], k[2]))],
        }  # fmt: skip

    def _edges(self) -> dict[Key, _Edge]:
        """Each edge's numbers; an edge between services both sides count, from the caller's side only."""
        edges: dict[Key, _Edge] = {}
        for (service, pod), scrapes in self.history.items():
            if pod not in self.answering.get(service, set()):
                continue
            at, latest = scrapes[-1]
            first_at, first = scrapes[0]
            for key, tally in latest.items():
                numbers = edges.setdefault(key, _Edge())
                numbers.total.add(tally)
                if at > first_at:
                    recent = tally.since(first.get(key))
                    numbers.recent.add(recent)
                    numbers.rate += recent.requests / (at - first_at)
        outbound = {(source, target) for kind, source, target in edges if kind == "out"}
        return {k: v for k, v in edges.items() if not (k[0] == "in" and (k[1], k[2]) in outbound)}

    def _edge_json(self, source: str, target: str, numbers: _Edge) -> dict[str, object]:
        calls = numbers.recent if numbers.recent.requests > 0 else numbers.total
        p95 = histogram_quantile(0.95, calls.buckets)
        return {
            "from": source,
            "to": target,
            "requests": round(numbers.total.requests),
            "rate": round(numbers.rate, 3),
            "error_ratio": round(calls.errors / calls.requests, 4) if calls.requests else 0.0,
            "p95_ms": None if p95 is None else round(p95 * 1000, 2),
            "declared": (source, target) in self.declared,
        }


def _parsed(service: str, pod: str, text: str | None) -> Counts | None:
    """A pod's counts; None when it did not answer, or answered what is not metrics text."""
    if text is None:
        return None
    try:
        return parse(service, text)
    except ValueError as exc:
        log.warning("service map: %s at %s answered what is not metrics text (%s)", service, pod, exc)
        return None


def _all_failed(recent: Tally) -> bool:
    return recent.requests > 0 and recent.errors >= recent.requests


Resolve = Callable[[str, int], list[tuple[str, int]]]


def every_address(host: str, port: int) -> list[tuple[str, int]]:
    """Every address a name resolves to (a headless Service: one per pod); its IPv4 ones, or IPv6 when it has none."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    v4, v6 = ({str(info[4][0]) for info in found if info[0] == family} for family in (socket.AF_INET, socket.AF_INET6))
    return [(address, port) for address in sorted(v4 or v6)]


class Scraper:
    """Reads every pod's /metrics into a ServiceMap: one round (`scrape`), or one every interval in the background."""

    def __init__(
        self,
        service_map: ServiceMap,
        targets: dict[str, str],
        *,
        every_address: bool,
        timeout: float,
        resolve: Resolve = every_address,
    ) -> None:
        self.service_map, self.targets, self.timeout, self.resolve = service_map, targets, timeout, resolve
        self.every_address = every_address
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.rounds = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def scrape(self) -> None:
        """One round: find every pod, read them all at once, and record what each answered."""
        pods = [(service, pod, url) for service, target in self.targets.items() for pod, url in self._pods(target)]
        with ThreadPoolExecutor(max_workers=max(1, min(16, len(pods)))) as pool:
            texts = list(pool.map(self._read, [url for _, _, url in pods]))
        answers: Pods = {service: {} for service in self.targets}
        for (service, pod, _), text in zip(pods, texts, strict=True):
            answers[service][pod] = text
        self.service_map.record(answers, at=time.monotonic())
        self.rounds += 1

    def start(self, interval: float) -> None:
        """Scrape now and then every `interval` seconds, in the background, until stopped."""
        self._thread = threading.Thread(target=self._run, args=(interval,), name="service-map-scraper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the background scraping (a round under way finishes first)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(self.timeout + 5)

    def _run(self, interval: float) -> None:
        while not self._stopping.is_set():
            try:
                self.scrape()
            except Exception:  # a round that fails must not end the map: the next one may succeed
                log.exception("service map: a scrape round failed")
            self._stopping.wait(interval)  # the interval between rounds, not a wait for something

    def _pods(self, target: str) -> list[tuple[str, str]]:
        """(address, /metrics URL) of each pod of a target: every address of its host name, or the URL itself."""
        parts = urlsplit(target)
        if not self.every_address or not parts.hostname:
            return [(parts.netloc, f"{target}/metrics")]
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            found = self.resolve(parts.hostname, port)
        except OSError as exc:
            log.warning("service map: %s does not resolve (%s)", parts.hostname, exc)
            return []
        pods = []
        for address, pod_port in found:
            netloc = f"[{address}]:{pod_port}" if ":" in address else f"{address}:{pod_port}"
            pods.append((netloc, parts._replace(netloc=netloc).geturl() + "/metrics"))
        return pods

    def _read(self, url: str) -> str | None:
        """A pod's /metrics text, or None when it does not answer it."""
        try:
            response = self.session.get(url, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            log.debug("service map: no answer from %s (%s)", url, type(exc).__name__)
            return None
        with response:
            return response.text if response.status_code == 200 else None
