"""The cart's settings, read from the environment in one place."""

from __future__ import annotations

from pathlib import Path

from limits import parse_many
from pydantic import Field, field_validator

from musicstore.common.settings import OwnDatabase


class CartSettings(OwnDatabase):
    """Cart database, payment simulation, quantity and rate limits."""

    DATABASE_PREFIX, SQLITE_FILE = "CART", "cart.db"
    CART_DB_PATH: Path | None = None
    CART_DATABASE_URL: str = ""
    PAYMENT_LATENCY_MS: int = Field(default=0, ge=0, le=60_000)
    MAX_QUANTITY: int = Field(default=10, ge=1, le=1000)
    PAYMENT_RATE_LIMIT: str = "10 per minute"
    HTTP_RETRIES: int = Field(default=2, ge=0, le=5)
    # One deadline for a checkout's downstream calls (the payment's latency comes on top).
    CHECKOUT_TIMEOUT: float = Field(default=10.0, ge=1, le=120)
    # Bulkheads (per process): how many requests may wait on the order service (checkouts) and on the store
    # at once, so pages that need neither keep threads (WEB_THREADS, default 8). One more waits for a slot while
    # the holders keep finishing (a busy downstream), at most PAGE_TIMEOUT, and gets its 503 (or a page without
    # the store's data) once none has finished for the wait below (a stalled downstream).
    CHECKOUT_CONCURRENCY: int = Field(default=4, ge=1, le=256)
    STORE_CONCURRENCY: int = Field(default=6, ge=1, le=256)
    # How long no checkout may finish before a checkout waiting for a slot is refused.
    BULKHEAD_WAIT: float = Field(default=0.5, ge=0, le=10)
    # How long no store call may finish before a page waiting for a store slot is shown without the store's data.
    # Short: under load a store call frees its slot within milliseconds, while in a stall waiting pages would hold
    # the threads /healthz needs (with no wait at all, 11% of cart pages at 16 connections showed no prices).
    STORE_BULKHEAD_WAIT: float = Field(default=0.05, ge=0, le=2)
    # One deadline for the store calls of a page or a cart change (all tries included).
    PAGE_TIMEOUT: float = Field(default=2.0, gt=0, le=60)
    # How often each cart process settles checkouts whose order is not known yet (0: never, for tests).
    RECONCILE_INTERVAL: float = Field(default=5.0, ge=0, le=300)

    @field_validator("PAYMENT_RATE_LIMIT")
    @classmethod
    def _a_rate_limit(cls, value: str) -> str:
        """Refuse at start-up a limit flask-limiter could not read (e.g. "10 per minute")."""
        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"not a rate limit: {value!r} (try '10 per minute')") from None
        return value
