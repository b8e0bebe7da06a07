"""The base of every simulated user: one journey per task, named and verified, counted in the ledger."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import gevent
import requests
from gevent import GreenletExit
from locust import HttpUser, task
from locust.exception import StopUser
from locust.runners import LocalRunner
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from musicstore.common import tracing
from musicstore.traffic.identity import HEADERS
from musicstore.traffic.ledger import Ledger
from musicstore.traffic.options import RunConfig
from musicstore.traffic.run import CURRENT
from musicstore.traffic.verify import JourneyFailed

log = logging.getLogger(__name__)


def retrying_adapter() -> HTTPAdapter:
    """Connections for a user: a read whose kept-alive connection the server closed as it was reused is asked
    once more; a connection that never opened is tried once more; a write is never sent twice. An answer is
    never retried (urllib3 would otherwise wait out a 503's Retry-After and then raise RetryError)."""
    retry = Retry(
        total=1,
        connect=1,
        read=1,
        status=0,
        other=0,
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=False,
        raise_on_status=False,
    )  # a 503 is the answer: the journey decides
    return HTTPAdapter(max_retries=retry)


@dataclass(frozen=True)
class Outcome:
    """How a journey ended when it did not fail: verified (or sold out, also verified), orders it made."""

    kind: str = "verified"
    orders: int = 0


VERIFIED = Outcome()
SOLD_OUT = Outcome("sold_out")
FAULT_HEADER = "X-Fault-Injected"  # a service injected a fault into this answer (or one it depended on)


class Expected(JourneyFailed):
    """A step answered with a status the journey did not expect."""


class FaultMet(Expected):
    """A step's unexpected answer was marked as an injected fault: the journey checks what must hold through it."""

    def __init__(self, problem: str, flags: set[str]) -> None:
        super().__init__(problem)
        self.flags = flags


def fault_flags(response: requests.Response) -> set[str]:
    """The fault switches an answer names in X-Fault-Injected."""
    return {flag.strip() for flag in response.headers.get(FAULT_HEADER, "").split(",") if flag.strip()}


class JourneyUser(HttpUser):
    """A simulated user whose every task is one journey of its kind."""

    abstract = True
    kind: ClassVar[str] = "journey"
    host = "http://localhost"  # every request names its full URL; this only satisfies Locust
    catalog_total = 24  # a first guess of the catalog's size; each catalog page read corrects it

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config: RunConfig = CURRENT.configured()
        self.faults_met: set[str] = set()  # the injected faults this journey's answers named

    def wait_time(self) -> float:
        """Think time between journeys (a setting: intensity)."""
        return random.uniform(self.config.think_min, self.config.think_max)

    def on_start(self) -> None:
        """Name ourselves on every request and take part in the run."""
        self.client.headers.update(HEADERS)
        self.client.mount("http://", retrying_adapter())
        self.client.mount("https://", retrying_adapter())
        self.ledger = CURRENT.ledger
        self.ledger.register(self.kind)

    def on_stop(self) -> None:
        """Leave the run (a user type with no user left keeps no share of a journey budget)."""
        if getattr(self, "ledger", None) is not None:
            self.ledger.leave(self.kind)

    @task
    def journey(self) -> None:
        """Run one journey, if the run's budget allows another and the user is ready for it."""
        if self.ready():
            run_journey(self, self.kind, self.one_journey)

    def ready(self) -> bool:
        """True when the user can start a journey now (a browser user needs a browser)."""
        return True

    def one_journey(self) -> Outcome:
        """The journey itself (each user type has its own)."""
        raise NotImplementedError

    def journey_failed(self) -> None:
        """Called after a failed journey (a browser user drops its browser)."""

    def after_fault(self, met: FaultMet) -> Outcome:
        """A step failed because of an injected fault: check what must still hold (raise JourneyFailed if not).

        Nothing can have been bought before a checkout, so by default the journey is verified (fault)."""
        return Outcome("verified_fault")

    # Steps -----------------------------------------------------------------------------------------------

    def step(
        self, method: str, url: str, *, name: str, expect: tuple[int, ...] = (200,), **kwargs: Any
    ) -> requests.Response:
        """One request of a journey, named in the statistics; an unexpected status fails the journey."""
        kwargs.setdefault("timeout", self.config.request_timeout)
        with self.client.request(method, url, name=name, catch_response=True, **kwargs) as response:
            met = fault_flags(response)
            self.faults_met |= met
            if response.status_code in expect:
                response.success()
                return response
            if response.status_code == 0:  # no answer at all: Locust keeps the connection error
                problem = f"{name}: no answer from {url} ({type(response.error).__name__})"
            else:
                detail = error_of(response)
                problem = f"{name}: expected {' or '.join(map(str, expect))}, got {response.status_code}"
                problem += f" ({detail})" if detail else ""
            response.failure(problem)
        raise FaultMet(problem, met) if met else Expected(problem)

    @contextmanager
    def timed(self, name: str, kind: str = "BROWSER") -> Iterator[None]:
        """A step that is not one HTTP request (a browser's), timed and named in the statistics."""
        started, failure = time.perf_counter(), None
        try:
            yield
        except Exception as exc:
            failure = exc
            raise
        finally:
            self.environment.events.request.fire(
                request_type=kind,
                name=name,
                response_time=(time.perf_counter() - started) * 1000,
                response_length=0,
                exception=failure,
                context={},
            )

    def service_headers(self) -> dict[str, str]:
        """The service token, for the internal reads that verify a journey."""
        return {"Authorization": f"Bearer {self.config.service_token}"}

    def orders_for(self, email: str) -> list[dict[str, Any]]:
        """The order service's orders for an e-mail (read with the service token)."""
        response = self.step(
            "GET",
            f"{self.config.orders}/api/orders",
            name="orders: verify",
            params={"customer_email": email, "per_page": 100},
            headers=self.service_headers(),
        )
        items: list[dict[str, Any]] = response.json().get("items", [])
        return items


def error_of(response: requests.Response) -> str:
    """The `error` of a JSON answer, or the start of its text."""
    try:
        body = response.json()
    except ValueError:
        return (response.text or "")[:120].strip()
    return str(body.get("error", ""))[:200] if isinstance(body, dict) else ""


def run_journey(user: JourneyUser, kind: str, body: Callable[[], Outcome]) -> None:
    """Run a journey: count it, time it as `journey: <kind>`, and record how it ended."""
    ledger = CURRENT.ledger
    if user.environment.runner is None:
        return
    # Yield once before the budget is asked: a stop that caught this user between journeys (Locust kills a waiting
    # user) may have woken it at the same moment; the kill lands here, not inside a journey it would cut short.
    # Asking and counting then happen with no yield between them, so two users cannot both take the last journey.
    gevent.sleep(0)
    if not _may_start(user, ledger, kind):
        return
    ledger.start(kind)
    started, began = time.perf_counter(), time.time()
    user.faults_met = set()
    try:
        with tracing.journey(f"journey: {kind}"):  # the journey's requests share one trace id
            outcome, failure = _through_faults(user, body), None
    except (GreenletExit, StopUser):
        ledger.finish(kind, "interrupted")
        raise
    except Exception as exc:
        outcome, failure = None, as_failure(kind, exc)
    user.environment.events.request.fire(
        request_type="JOURNEY", name=f"journey: {kind}", response_time=(time.perf_counter() - started) * 1000,
        response_length=0, exception=failure, context={},
    )  # fmt: skip
    if failure is not None:
        ledger.finish(kind, "failed", reason=str(failure))
        log.warning("journey %s failed: %s", kind, failure)
        user.journey_failed()
    elif outcome is not None:
        ledger.finish(kind, outcome.kind, orders=outcome.orders)
    if CURRENT.scenario is not None:
        CURRENT.scenario.journey_ended(began, "failed" if failure else outcome.kind if outcome else "", user.faults_met)
    _stop_when_spent(user)


def _through_faults(user: JourneyUser, body: Callable[[], Outcome]) -> Outcome:
    """The journey's outcome; one that met an injected fault and whose checks held is verified (fault)."""
    try:
        outcome = body()
    except FaultMet as met:
        try:
            outcome = user.after_fault(met)
        except JourneyFailed as broken:
            raise JourneyFailed(f"after an injected fault ({', '.join(sorted(met.flags))}): {broken}") from None
        log.info("journey %s met an injected fault (%s) and held: %s", user.kind, ", ".join(sorted(met.flags)), met)
    if user.faults_met and outcome.kind in ("verified", "sold_out"):
        return replace(outcome, kind="verified_fault")
    return outcome


def _may_start(user: JourneyUser, ledger: Ledger, kind: str) -> bool:
    """True when the budget lets a journey start; a user whose budget is spent stops."""
    if ledger.may_start(kind):
        return True
    if ledger.budget is not None and ledger.started >= ledger.budget:
        _stop_when_spent(user)
        raise StopUser()
    return False


def as_failure(kind: str, exc: Exception) -> JourneyFailed:
    """What an exception of a journey says as a journey failure."""
    if isinstance(exc, JourneyFailed):
        return exc
    if not isinstance(exc, (requests.RequestException, OSError)):
        log.exception("journey %s failed unexpectedly", kind)  # a browser or driver error, or a bug
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    return JourneyFailed(f"{type(exc).__name__}: {first_line}")


def _stop_when_spent(user: JourneyUser) -> None:
    """With a journey budget, end the run once it is spent and the last journey has finished."""
    runner = user.environment.runner
    # Only a run on one process ends itself; with workers, the master ends the run when the sum is reached.
    if isinstance(runner, LocalRunner) and CURRENT.ledger.spent and not CURRENT.ending:
        CURRENT.ending = True
        gevent.spawn(runner.quit)
