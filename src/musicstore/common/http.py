"""The base of every client a service uses to call another: timeouts, bounded retries, clear errors.

Only calls that are safe to repeat are retried: GETs, and POSTs that carry an idempotency key
(the caller says so with `idempotent=True`). Every call passes on the request id and logs its
duration.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import requests
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from musicstore.common.logs import REQUEST_ID_HEADER, current_request_id

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})


class DownstreamError(Exception):
    """A call to another service failed."""

    def __init__(self, service: str, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
        self.message = message
        self.status = status
        self.body = body


class DownstreamUnavailable(DownstreamError):
    """The service could not be reached, timed out or failed on its side (5xx)."""


class DownstreamRejected(DownstreamError):
    """The service answered, and refused the call (4xx)."""


class ServiceClient:
    """One downstream service: a shared session, a timeout on every call, bounded retries."""

    service = "service"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        token: str = "",
        retries: int = 2,
        backoff: float = 0.1,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = session or requests.Session()
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
        try:
            response = self.session.get(self.base_url + path, timeout=min(self.timeout, 1.0))
            response.close()
            return response.ok
        except requests.RequestException:
            return False

    def _call(self, method: str, path: str, *, retry_safe: bool, **kwargs: Any) -> Any:
        attempts = self.retries + 1 if retry_safe else 1

        @retry(
            retry=retry_if_exception_type(DownstreamUnavailable),
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=self.backoff, max=2),
            reraise=True,
        )
        def _once() -> Any:
            return self._send(method, path, **kwargs)

        return _once()

    def _send(self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        headers = dict(headers or {})
        request_id = current_request_id()
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        started = time.perf_counter()
        try:
            response = self.session.request(
                method, self.base_url + path, headers=headers, timeout=self.timeout, **kwargs
            )
        except requests.Timeout:
            self._log(method, path, "timeout", started)
            raise DownstreamUnavailable(self.service, f"no answer within {self.timeout:g}s") from None
        except requests.RequestException as exc:
            self._log(method, path, "unreachable", started)
            raise DownstreamUnavailable(self.service, f"unreachable ({type(exc).__name__})") from None
        with response:
            self._log(method, path, str(response.status_code), started)
            return self._answer(response)

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

    def _log(self, method: str, path: str, outcome: str, started: float) -> None:
        millis = (time.perf_counter() - started) * 1000
        log.info("%s %s %s%s -> %s in %.0f ms", self.service, method, self.base_url, path, outcome, millis)
