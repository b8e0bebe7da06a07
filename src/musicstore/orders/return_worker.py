"""The worker that delivers the outbox of stock returns to the store, retrying until the store has each one.

One daemon thread per process, started by the serving process (wsgi) or by the first cancellation
that records a return, and woken right after the commit of every such cancellation (whichever view
made it). Between wakes it sleeps until the
earliest pending row is due, or `poll` seconds at most, so rows another process recorded (and did
not get to send) are found too.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from flask import Flask
from prometheus_client import Counter
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from musicstore.common.db import get_database, utcnow
from musicstore.common.http import DownstreamError
from musicstore.common.metrics import get_metrics
from musicstore.orders import outbox
from musicstore.orders.clients import ReturnOutcome, StoreClient
from musicstore.orders.settings import OrderSettings

log = logging.getLogger(__name__)


class StockReturnWorker:
    """Sends due stock returns, one claimed row at a time, with a doubling backoff between a row's tries."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        store: StoreClient,
        *,
        counter: Counter,
        first_retry: float = 1.0,
        max_retry: float = 30.0,
        poll: float = 10.0,
        enabled: bool = True,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.counter = counter
        self.first_retry, self.max_retry, self.poll = first_retry, max_retry, poll
        self.enabled = enabled
        # A claim outlasts the call (timeout, and some) so no other worker sends the row meanwhile.
        self.lease = timedelta(seconds=store.timeout + 5)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run the thread unless it runs already (also in a process forked after it started)."""
        if not self.enabled:
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="stock-returns", daemon=True)
                self._thread.start()

    def wake(self) -> None:
        """A return was just recorded: send it now."""
        self.start()
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and wait for it (a delivery under way finishes first)."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.deliver_due()
                wait = self._until_next_due()
            except Exception as exc:  # the database may be away: the rows wait in it; try again later
                log.warning("stock returns: could not read the outbox (%s); trying again in %gs", exc, self.max_retry)
                wait = self.max_retry
            self._wake.wait(wait)

    def deliver_due(self) -> int:
        """Send every return that is due now; how many were claimed."""
        sent = 0
        while not self._stop.is_set():
            with self.sessions.begin() as session:
                row = outbox.claim_due(session, now=utcnow(), lease=self.lease)
            if row is None:
                return sent
            self._deliver(row)
            sent += 1
        return sent

    def _deliver(self, row: outbox.Claimed) -> None:
        try:
            outcome = self.store.return_stock(row.reservation_id)
        except DownstreamError as exc:
            delay = self.backoff(row.attempts)
            log.warning(
                "stock return of order %d (reservation %s), try %d, failed: %s; next try in %gs",
                row.order_id,
                row.reservation_id,
                row.attempts,
                exc,
                delay,
            )
            self.counter.labels("retry").inc()
            with self.sessions.begin() as session:
                outbox.retry_later(session, row.id, at=utcnow() + timedelta(seconds=delay), error=str(exc))
            return
        note = None
        if outcome is ReturnOutcome.WAS_RELEASED:
            note = "the store had released this reservation: nothing to return"
            log.warning("stock return of order %d: %s (%s)", row.order_id, note, row.reservation_id)
        elif outcome is ReturnOutcome.UNKNOWN:
            note = "the store does not know this reservation"
            log.warning("stock return of order %d: %s (%s)", row.order_id, note, row.reservation_id)
        else:
            log.info("stock of order %d returned to the store (reservation %s)", row.order_id, row.reservation_id)
        self.counter.labels(outcome.value).inc()
        with self.sessions.begin() as session:
            outbox.finish(session, row.id, now=utcnow(), note=note)

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after a row's `attempts`-th failed try: doubling from first_retry up to max_retry."""
        return float(min(self.max_retry, self.first_retry * 2 ** min(attempts - 1, 30)))

    def _until_next_due(self) -> float:
        with self.sessions() as session:
            due = outbox.next_due(session)
        if due is None:
            return self.poll
        return min(self.poll, max(0.01, (due - utcnow()).total_seconds()))


def init_app(app: Flask, settings: OrderSettings) -> StockReturnWorker:
    """Make the app's worker; its thread starts with `start()` (the serving process) or the first `wake()`."""
    counter = get_metrics(app).counter(
        "stock_return_deliveries_total",
        "Stock returns sent to the store, by outcome (returned, released, unknown, retry)",
        ("outcome",),
    )
    store = StoreClient(
        settings.STORE_SERVICE_URL,
        timeout=settings.HTTP_TIMEOUT,
        token=settings.SERVICE_TOKEN,
        metrics=get_metrics(app),
    )
    worker = StockReturnWorker(
        get_database(app).sessionmaker,
        store,
        counter=counter,
        first_retry=settings.STOCK_RETURN_FIRST_RETRY,
        max_retry=settings.STOCK_RETURN_MAX_RETRY,
        poll=settings.STOCK_RETURN_POLL,
        enabled=settings.STOCK_RETURN_WORKER,
    )
    app.extensions["stock_returns"] = worker
    sessions = get_database(app).sessionmaker

    @event.listens_for(sessions, "after_commit")
    def _send_what_was_recorded(session: Session) -> None:
        if session.info.pop(outbox.RECORDED, False):
            worker.wake()

    @event.listens_for(sessions, "after_rollback")
    def _forget_what_was_not(session: Session) -> None:
        session.info.pop(outbox.RECORDED, None)

    return worker


def worker_of(app: Flask) -> StockReturnWorker:
    """The stock-return worker of an app."""
    worker: StockReturnWorker = app.extensions["stock_returns"]
    return worker
