"""The base of every client a service uses to call another: timeouts, bounded retries, clear errors.

Only calls that are safe to repeat are retried: GETs, and POSTs that carry an idempotency key
(the caller says so with `idempotent=True`). Every call passes on the request id, names the calling service
(`User-Agent: musicstore-<caller>`), logs its duration and is counted on the caller's metrics
(http_client_requests_total{peer, method, route, status}: each try, with the route's template, and "timeout" or
"error" as the status of a try that got no answer). Under a request's deadline (musicstore.common.deadline) a
call waits at most the time left, retries included, and sends the callee the time by which it must be done.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import requests
from tenacity import RetryCallState, retry, retry_if_exception_type, stop_after_attempt, stop_any, wait_exponential
from tenacity.stop import stop_base
from urllib3.exceptions import NewConnectionError

from musicstore.common import deadline
from musicstore.common.faults import relay
from musicstore.common.logs import REQUEST_ID_HEADER, current_request_id
from musicstore.common.metrics import Metrics

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
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
    """One downstream service: a shared session, a timeout on every call, bounded retries."""

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
        session: requests.Session | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """`caller` is the calling service's name (its User-Agent); `metrics` the caller's, which count each call."""
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.metrics = metrics
        self.session = session or requests.Session()
        # Calls between our services go straight to the service: no proxy, .netrc or CA bundle from the
        # environment (and no lookup of them on every call: 6% of the cart's store call in bench/http_profile.py).
        self.session.trust_env = False
        if caller:
            self.session.headers["User-Agent"] = f"musicstore-{caller}"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET a JSON answer (retried: a GET is safe to repeat)."""
        return self._call("GET", path, retry_safe=True, **kwargs)

    def post(self, path: str, json: Any, *, idempotent: bool, headers: dict[str, str] | None = None) -> Any:
        """POST JSON and return the JSON answer; retried only when the call is idempotent."""
        return self._call("POST", path, retry_safe=idempotent, json=json, headers=headers or {})

    def ping(self, path: str = "/healthz") -> bool:
        """True when the service answers its health check (one short try, no retries)."""
        started = time.perf_counter()
        try:
            response = self.session.get(self.base_url + path, timeout=min(self.timeout, 1.0))
        except requests.RequestException as exc:
            self._count("GET", path, "timeout" if isinstance(exc, requests.Timeout) else "error", started)
            return False
        response.close()
        self._count("GET", path, str(response.status_code), started)
        return response.ok

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

    def _send(self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        headers = dict(headers or {})
        request_id = current_request_id()
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        timeout = self._timeout(headers)
        started = time.perf_counter()
        try:
            response = self.session.request(method, self.base_url + path, headers=headers, timeout=timeout, **kwargs)
        except requests.ConnectTimeout:
            self._log(method, path, "unreachable", started)
            self._count(method, path, "timeout", started)
            raise DownstreamUnavailable(self.service, "unreachable (ConnectTimeout)", sent=False) from None
        except requests.Timeout:
            self._log(method, path, "timeout", started)
            self._count(method, path, "timeout", started)
            raise DownstreamUnavailable(self.service, f"no answer within {timeout:g}s") from None
        except requests.RequestException as exc:
            self._log(method, path, "unreachable", started)
            self._count(method, path, "error", started)
            sent = not _never_connected(exc)
            raise DownstreamUnavailable(self.service, f"unreachable ({type(exc).__name__})", sent=sent) from None
        with response:
            relay(response.headers)  # a fault injected downstream marks this service's answer too (X-Fault-Injected)
            self._log(method, path, str(response.status_code), started)
            self._count(method, path, str(response.status_code), started)
            return self._answer(response)

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

    def _answer(self, response: requests.Response) -> Any:
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if response.status_code >= 500 or response.status_code in RETRY_STATUSES:
            raise DownstreamUnavailable(self.service, f"answered {response.status_code}", response.status_code, body)
        if response.status_code >= 400:
            message = body.get("error") if isinstance(body, dict) else None
            raise DownstreamRejected(
                self.service, str(message or f"answered {response.status_code}"), response.status_code, body
            )
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


def _never_connected(exc: requests.RequestException) -> bool:
    """True when the connection could not even be opened (refused, no route, unknown name): nothing was sent."""
    reason: BaseException | None = exc
    while reason is not None:
        if isinstance(reason, NewConnectionError):
            return True
        reason = reason.args[0] if reason.args and isinstance(reason.args[0], BaseException) else reason.__cause__
        reason = getattr(reason, "reason", reason)
    return False
