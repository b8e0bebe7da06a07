"""The base of every client a service uses to call another: timeouts, bounded retries, clear errors.

Only calls that are safe to repeat are retried: GETs, and POSTs that carry an idempotency key
(the caller says so with `idempotent=True`). Every call passes on the request id and the W3C trace context, names
the calling service (`User-Agent: musicstore-<caller>`), logs its duration and is counted on the caller's metrics
(http_client_requests_total{peer, method, route, status}: each try, with the route's template, and "timeout" or
"error" as the status of a try that got no answer). Under a request's deadline (musicstore.common.deadline) a
call waits at most the time left, retries included, and sends the callee the time by which it must be done.

The transport is urllib3's connection pool, one per downstream, shared by the threads of a process: calls between
our services need no cookies, redirects, proxies or .netrc, and requests' layers over urllib3 (with their tracing
instrumentation) cost about 0.9 ms of CPU per call (bench/README.md, #16). A redirect is never followed: an API of
ours never redirects, so one means a misconfigured URL.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3
from opentelemetry import propagate
from tenacity import RetryCallState, retry, retry_if_exception_type, stop_after_attempt, stop_any, wait_exponential
from tenacity.stop import stop_base
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError, ReadTimeoutError

from musicstore.common import deadline
from musicstore.common.faults import relay
from musicstore.common.logs import REQUEST_ID_HEADER, current_request_id
from musicstore.common.metrics import Metrics

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Connections kept open to one downstream per process: more than a worker's threads, so that none is opened and
# thrown away under load (a busier moment opens more, and urllib3 closes those it cannot keep).
POOL_SIZE = 16
_ID_SEGMENT = re.compile(r"(?<=/)[0-9]+(?=/|$)")


def route_template(path: str) -> str:
    """A call's path as a label value: ids (our ids are integers) become {id}, the query goes."""
    return _ID_SEGMENT.sub("{id}", path.split("?", 1)[0])


class DownstreamError(Exception):
    """A call to another service failed."""

    def __init__(
        self, service: str, message: str, status: int | None = None, body: Any = None, *, sent: bool = True
    ) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
        self.message = message
        self.status = status
        self.body = body
        self.sent = sent  # False only when no try can have reached the service (no connection, no time left)


class DownstreamUnavailable(DownstreamError):
    """The service could not be reached, timed out or failed on its side (5xx)."""


class DownstreamRejected(DownstreamError):
    """The service answered, and refused the call (4xx)."""


class ServiceClient:
    """One downstream service: a shared connection pool, a timeout on every call, bounded retries."""

    service = "service"
    # How much sooner than the caller stops waiting the callee must be done: time for a commit that began just
    # before the callee's deadline to finish, so a call that timed out is known to have done nothing after it.
    callee_grace = 0.0

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        caller: str = "",
        token: str = "",
        retries: int = 2,
        backoff: float = 0.1,
        pool: urllib3.HTTPConnectionPool | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """`caller` is the calling service's name (its User-Agent); `metrics` the caller's, which count each call."""
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.metrics = metrics
        # Straight to the service: no proxy or .netrc from the environment (a pool is made for one host and port).
        self.pool = pool or urllib3.connection_from_url(self.base_url, maxsize=POOL_SIZE, block=False, retries=False)
        self._prefix = urlsplit(self.base_url).path  # a base URL may carry a path (behind a proxy)
        self.headers: dict[str, str] = {}
        if caller:
            self.headers["User-Agent"] = f"musicstore-{caller}"
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def get(
        self, path: str, *, params: dict[str, Any] | None = None, headers: dict[str, str | None] | None = None
    ) -> Any:
        """GET a JSON answer (retried: a GET is safe to repeat)."""
        return self._call("GET", path, retry_safe=True, params=params, headers=headers)

    def post(self, path: str, json: Any, *, idempotent: bool, headers: dict[str, str | None] | None = None) -> Any:
        """POST JSON and return the JSON answer; retried only when the call is idempotent."""
        return self._call("POST", path, retry_safe=idempotent, body=json, headers=headers)

    def ping(self, path: str = "/healthz") -> bool:
        """True when the service answers its health check (one short try, no retries)."""
        started = time.perf_counter()
        try:
            response = self._urlopen("GET", path, self._headers(None), min(self.timeout, 1.0))
        except HTTPError as exc:
            self._count("GET", path, "timeout" if _timed_out(exc) else "error", started)
            return False
        self._count("GET", path, str(response.status), started)
        return response.status < 400

    def _call(self, method: str, path: str, *, retry_safe: bool, **kwargs: Any) -> Any:
        attempts = self.retries + 1 if retry_safe else 1
        sent = False

        @retry(
            retry=retry_if_exception_type(DownstreamUnavailable),
            stop=stop_any(stop_after_attempt(attempts), _NoTimeLeft()),
            wait=wait_exponential(multiplier=self.backoff, max=2),
            reraise=True,
        )
        def _once() -> Any:
            nonlocal sent
            try:
                return self._send(method, path, **kwargs)
            except DownstreamError as exc:
                sent = sent or exc.sent
                exc.sent = sent  # one try that may have arrived makes the whole call "may have arrived"
                raise

        return _once()

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str | None] | None = None,
    ) -> Any:
        target = f"{path}?{urlencode(params)}" if params else path  # logged and counted without its query
        sent_headers = self._headers(headers)
        timeout = self._timeout(sent_headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent_headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            response = self._urlopen(method, target, sent_headers, timeout, data)
        except HTTPError as exc:
            self._count(method, path, "timeout" if _timed_out(exc) else "error", started)
            raise self._failure(method, path, exc, timeout, started) from None
        relay(response.headers)  # a fault injected downstream marks this service's answer too (X-Fault-Injected)
        self._log(method, path, str(response.status), started)
        self._count(method, path, str(response.status), started)
        return self._answer(response)

    def _urlopen(
        self, method: str, path: str, headers: dict[str, str], timeout: float, body: bytes | None = None
    ) -> urllib3.BaseHTTPResponse:
        """One try: the whole answer read, its connection back in the pool."""
        return self.pool.urlopen(
            method, self._prefix + path, body=body, headers=headers, timeout=timeout, retries=False, redirect=False
        )

    def _headers(self, extra: dict[str, str | None] | None) -> dict[str, str]:
        """The client's headers, a call's own (None drops one of the client's), the request id and trace context."""
        headers = dict(self.headers)
        for name, value in (extra or {}).items():
            if value is None:
                headers.pop(name, None)
            else:
                headers[name] = value
        request_id = current_request_id()
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        propagate.inject(headers)  # traceparent and baggage; with tracing on, urllib3's instrumentation's client span
        return headers

    def _failure(self, method: str, path: str, exc: HTTPError, timeout: float, started: float) -> DownstreamUnavailable:
        """What a try that got no answer raises: whether it can have reached the service, and why not."""
        if isinstance(exc, NewConnectionError):  # refused, no route, unknown name (urllib3 files it under timeouts)
            self._log(method, path, "unreachable", started)
            return DownstreamUnavailable(self.service, f"unreachable ({type(exc).__name__})", sent=False)
        if isinstance(exc, ConnectTimeoutError):
            self._log(method, path, "unreachable", started)
            return DownstreamUnavailable(self.service, "unreachable (ConnectTimeout)", sent=False)
        if isinstance(exc, ReadTimeoutError):
            self._log(method, path, "timeout", started)
            return DownstreamUnavailable(self.service, f"no answer within {timeout:g}s")
        self._log(method, path, "unreachable", started)
        return DownstreamUnavailable(self.service, f"unreachable ({type(exc).__name__})")

    def _timeout(self, headers: dict[str, str]) -> float:
        """How long this try may wait: the client's timeout, or the time left before the request's deadline.

        Under a deadline the callee is told when it must be done (callee_grace sooner than this try gives up).
        """
        left = deadline.remaining()
        if left is None:
            return self.timeout
        if left <= 0:
            raise DownstreamUnavailable(self.service, "the request's time for downstream calls is used up", sent=False)
        timeout = min(self.timeout, left)
        grace = min(self.callee_grace, timeout / 2)
        headers[deadline.DEADLINE_HEADER] = f"{time.time() + timeout - grace:.3f}"
        return timeout

    def _answer(self, response: urllib3.BaseHTTPResponse) -> Any:
        status = response.status
        try:
            body = json.loads(response.data) if response.data else None
        except ValueError:
            body = None
        if status >= 500 or status in RETRY_STATUSES:
            raise DownstreamUnavailable(self.service, f"answered {status}", status, body)
        if status >= 400:
            message = body.get("error") if isinstance(body, dict) else None
            raise DownstreamRejected(self.service, str(message or f"answered {status}"), status, body)
        if status >= 300:
            raise DownstreamError(self.service, f"answered {status}, a redirect (calls between services follow none)")
        return body

    def _count(self, method: str, path: str, status: str, started: float) -> None:
        if self.metrics is not None:
            self.metrics.observe_call(self.service, method, route_template(path), status, time.perf_counter() - started)

    def _log(self, method: str, path: str, outcome: str, started: float) -> None:
        millis = (time.perf_counter() - started) * 1000
        log.info("%s %s %s%s -> %s in %.0f ms", self.service, method, self.base_url, path, outcome, millis)


class _NoTimeLeft(stop_base):
    """Stop retrying once the request's deadline has passed."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        left = deadline.remaining()
        return left is not None and left <= 0


def _timed_out(exc: HTTPError) -> bool:
    """True for a try that waited out its timeout (a refused connection is an error, not a timeout)."""
    return isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)) and not isinstance(exc, NewConnectionError)
