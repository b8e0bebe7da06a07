"""The two ids that make calls between services idempotent, each with one rule for what it may look like.

A reservation id (the store's `reservation_id`, kept on an order) names one hold of stock; an
idempotency key (the order API's `Idempotency-Key`) names one order. Every service checks them here.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

RESERVATION_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,100}$"  # visible ASCII, like a UUID or a ULID
IDEMPOTENCY_KEY_RULE = "1-100 visible ASCII characters"

# A checkout key (the cart's idempotency_key, passed on as the order's Idempotency-Key) is an idempotency key
# that also names a confirmation page (/confirmation/<key>) and fits the cart's 64-character column.
CHECKOUT_KEY_PATTERN = r"^[A-Za-z0-9_.:-]{8,64}$"
CHECKOUT_KEY_RULE = "8-64 letters, digits, - _ . :"

ReservationId = Annotated[str, StringConstraints(pattern=RESERVATION_ID_PATTERN)]
"""A reservation id in a request body: 1-64 letters, digits, `_`, `.`, `:` or `-`."""

_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


def is_idempotency_key(value: str) -> bool:
    """True when the value may be an idempotency key."""
    return bool(_IDEMPOTENCY_KEY.fullmatch(value))


_CHECKOUT_KEY = re.compile(CHECKOUT_KEY_PATTERN)


def is_checkout_key(value: str) -> bool:
    """True when the value may be a checkout's key (always an idempotency key too)."""
    return bool(_CHECKOUT_KEY.fullmatch(value))
