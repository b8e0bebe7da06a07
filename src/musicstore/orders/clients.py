"""The order service's one downstream: the store, which takes a cancelled order's stock back."""

from __future__ import annotations

from enum import Enum

from musicstore.common.http import DownstreamRejected, ServiceClient
from musicstore.common.metrics import Metrics


class ReturnOutcome(Enum):
    """What the store did with a return: each one ends the outbox row."""

    RETURNED = "returned"  # the stock is back (now, or by an earlier try)
    WAS_RELEASED = "released"  # the checkout had released it already: nothing to return
    UNKNOWN = "unknown"  # the store never held this reservation


class StoreClient(ServiceClient):
    """The store's internal stock API."""

    service = "store"

    def __init__(self, base_url: str, *, timeout: float, token: str, metrics: Metrics | None = None) -> None:
        # The outbox retries, with its own backoff: one try per call here.
        super().__init__(base_url, caller="orders", timeout=timeout, token=token, retries=0, metrics=metrics)

    def return_stock(self, reservation_id: str) -> ReturnOutcome:
        """Give a cancelled order's reservation back (idempotent by reservation id)."""
        try:
            self.post("/api/stock/return", {"reservation_id": reservation_id}, idempotent=True)
        except DownstreamRejected as exc:
            if exc.status == 409:
                return ReturnOutcome.WAS_RELEASED
            if exc.status == 404:
                return ReturnOutcome.UNKNOWN
            raise
        return ReturnOutcome.RETURNED
