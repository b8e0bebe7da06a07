"""Request bodies of the order API (pydantic) and the order as the API answers it."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator, model_validator

from musicstore.common.db import MAX_ID
from musicstore.common.keys import ReservationId
from musicstore.common.money import CENT, money
from musicstore.common.text import MAX_EMAIL, NoControl, ShortText, is_email
from musicstore.orders import rules
from musicstore.orders.models import Order

MAX_UNIT_PRICE = Decimal("10000")
Email = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=MAX_EMAIL), NoControl]


class LineIn(BaseModel):
    """One album of a new order, as the cart priced it."""

    model_config = ConfigDict(extra="forbid")

    album_id: StrictInt = Field(ge=1, le=MAX_ID)
    title: ShortText
    artist: ShortText
    unit_price: Decimal = Field(ge=0, lt=MAX_UNIT_PRICE, max_digits=7, decimal_places=2, allow_inf_nan=False)
    quantity: StrictInt = Field(ge=1, le=1000)

    @field_validator("unit_price", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError('must be an amount such as "12.99", not true/false')
        return value

    @field_validator("unit_price")
    @classmethod
    def _to_the_cent(cls, value: Decimal) -> Decimal:
        return value.quantize(CENT)


class OrderIn(BaseModel):
    """A new order. A `total` may be sent but is ignored: the total is recomputed from the lines."""

    model_config = ConfigDict(extra="forbid")

    customer_name: ShortText
    customer_email: Email
    card_brand: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z][A-Za-z ._-]{0,29}$")]
    card_last4: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
    items: list[LineIn] = Field(min_length=1, max_length=100)
    reservation_id: ReservationId | None = None  # the store's hold on this order's stock (the cart's checkout)
    total: Any = Field(default=None, exclude=True)

    @field_validator("customer_email")
    @classmethod
    def _looks_like_an_email(cls, value: str) -> str:
        if not is_email(value):
            raise ValueError("is not a valid e-mail address")
        return value

    @model_validator(mode="after")
    def _one_line_per_album(self) -> OrderIn:
        seen: set[int] = set()
        for line in self.items:
            if line.album_id in seen:
                raise ValueError(f"album {line.album_id} appears in more than one line")
            seen.add(line.album_id)
        return self

    def computed_total(self) -> Decimal:
        """The order's total from its lines (never the client's)."""
        return rules.order_total((line.unit_price, line.quantity) for line in self.items)

    def fingerprint(self) -> str:
        """A hash of what was asked for, to tell a replay from another order under the same key."""
        # Without a reservation id, the hash stays what it was before the field existed: older orders still replay.
        fields = self.model_dump(mode="json", exclude={"reservation_id"} if self.reservation_id is None else None)
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class StatusIn(BaseModel):
    """A status change."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["pending", "confirmed", "shipped", "delivered", "cancelled"]


def order_json(order: Order, public_url: str) -> dict[str, Any]:
    """An order as the API answers it (money as two-decimal strings, times ISO 8601 UTC)."""
    return {
        "id": order.id,
        "order_number": order.order_number,
        "customer_name": order.customer_name,
        "customer_email": order.customer_email,
        "items": [
            {
                "album_id": line.album_id,
                "title": line.title,
                "artist": line.artist,
                "unit_price": money(line.unit_price),
                "quantity": line.quantity,
                "line_total": money(line.line_total),
            }
            for line in order.lines
        ],
        "total": money(order.total),
        "status": order.status,
        "card_brand": order.card_brand,
        "card_last4": order.card_last4,
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
        "tracking_url": f"{public_url}/track/{order.tracking_token}",
    }


def iso(moment: Any) -> str:
    """A UTC time in ISO 8601, ending in Z."""
    return str(moment.isoformat().replace("+00:00", "Z"))
