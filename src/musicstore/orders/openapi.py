"""The order service's OpenAPI document: its JSON API (DESIGN.md, "Orders"), from the models the views validate with."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from musicstore.common.db import MAX_ID
from musicstore.common.keys import IDEMPOTENCY_KEY_PATTERN
from musicstore.common.openapi import (
    ADMIN,
    EVERY_SERVICE,
    INTERNAL,
    PAGE,
    PER_PAGE,
    TOO_LONG,
    Answer,
    Body,
    ErrorOut,
    Money,
    Operation,
    PageOut,
    Param,
    Timestamp,
    build_document,
    errors,
    rate_limited,
)
from musicstore.common.text import MAX_EMAIL
from musicstore.orders import rules
from musicstore.orders.schemas import OrderIn, StatusIn

Status = Literal["pending", "confirmed", "shipped", "delivered", "cancelled"]


class OrderLineOut(BaseModel):
    """One line of an order, priced as the cart priced it."""

    model_config = ConfigDict(extra="forbid")

    album_id: int
    title: str
    artist: str
    unit_price: Money
    quantity: int = Field(ge=1)
    line_total: Money


class OrderOut(BaseModel):
    """An order as the API answers it."""

    model_config = ConfigDict(extra="forbid", title="Order")

    id: int = Field(ge=1)
    order_number: str
    customer_name: str
    customer_email: str
    items: list[OrderLineOut]
    total: Money
    status: Status
    card_brand: str
    card_last4: str = Field(pattern=r"^[0-9]{4}$")
    created_at: Timestamp
    updated_at: Timestamp
    tracking_url: str = Field(description="The customer's tracking page (an unguessable link)")


class OrderPage(PageOut[OrderOut]):
    """A page of orders, newest first."""


class TransitionError(ErrorOut):
    """A status change the rules refuse (pending → confirmed → shipped → delivered; cancelled from the first two)."""

    model_config = ConfigDict(extra="allow")

    current_status: Status | None = None
    allowed: list[Status] | None = None


ORDER_EXAMPLE = {
    "customer_name": "Ada Lovelace",
    "customer_email": "ada@example.com",
    "card_brand": "visa",
    "card_last4": "4242",
    "items": [{"album_id": 1, "title": "Blue Train", "artist": "John Coltrane", "unit_price": "12.99", "quantity": 1}],
}
ORDER_ID = Param("id", "path", {"type": "integer", "minimum": 1, "maximum": MAX_ID, "examples": [1]}, "The order's id")
DOWN = {503: "The database does not answer, or a fault was injected (ordersUnavailable); try again"}
READ_GUARD = {401: "Credentials missing or wrong"}
WRITE_GUARD = {**READ_GUARD, 403: "Refused: the request's Origin is not the shop's"}
LIMITED = rate_limited("failed HTTP Basic attempts count against the login limit")
BAD_BODY = {400: "The body is not a JSON object", 415: "The body is not sent as JSON",
            422: "A field breaks its rule (the message says which)"}  # fmt: skip

OPERATIONS = (
    Operation(
        "POST",
        "/api/orders",
        "Make an order, once per Idempotency-Key; the total is recomputed from the lines",
        {
            201: Answer("The new order", OrderOut),
            200: Answer("The order this Idempotency-Key made before", OrderOut),
            **errors(
                {
                    **BAD_BODY,
                    400: "The body is not a JSON object, or the Idempotency-Key header is missing or malformed",
                    422: "A field breaks its rule, or the key was used for a different order",
                    **WRITE_GUARD,
                    **DOWN,
                }
            ),
            **LIMITED,
        },
        body=Body(OrderIn, example=ORDER_EXAMPLE),
        params=(
            Param(
                "Idempotency-Key",
                "header",
                {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                "Names this order: the same key again answers the same order (1-100 visible ASCII characters)",
                required=True,
            ),
        ),
        security=INTERNAL,
    ),
    Operation(
        "GET",
        "/api/orders",
        "Orders, newest first, filtered by status, customer e-mail or the checkout's idempotency key",
        {
            200: Answer("A page of orders", OrderPage),
            **errors({400: "A paging or filter parameter is wrong", **READ_GUARD, **DOWN}),
            **LIMITED,
            **TOO_LONG,
        },
        params=(
            Param("status", "query", {"enum": list(rules.STATUSES)}, "Only orders with this status"),
            Param("customer_email", "query", {"type": "string", "maxLength": MAX_EMAIL}, "Only this customer's"),
            Param(
                "idempotency_key",
                "query",
                {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                "The order made under this Idempotency-Key, if any (how a checkout finds out after a timeout)",
            ),
            PAGE,
            PER_PAGE,
        ),
        security=INTERNAL,
    ),
    Operation(
        "GET",
        "/api/orders/{id}",
        "One order",
        {
            200: Answer("The order", OrderOut),
            **errors({404: "No order with this id", **READ_GUARD, **DOWN}),
            **LIMITED,
        },
        params=(ORDER_ID,),
        security=INTERNAL,
    ),
    Operation(
        "PUT",
        "/api/orders/{id}/status",
        "Move an order along its statuses, or cancel it (admin only; a cancellation gives its stock back)",
        {
            200: Answer("The order with its new status", OrderOut),
            409: Answer("The rules do not allow this change", TransitionError),
            **errors(
                {
                    **BAD_BODY,
                    **WRITE_GUARD,
                    403: "The service token may not change a status, or the Origin is not the shop's",
                    404: "No order with this id",
                    **DOWN,
                }
            ),
            **LIMITED,
        },
        body=Body(StatusIn, example={"status": "confirmed"}),
        params=(ORDER_ID,),
        security=ADMIN,
    ),
    *EVERY_SERVICE,
)


def orders_document() -> dict[str, Any]:
    """The order service's OpenAPI document."""
    return build_document(
        title="Music Store: orders",
        version="1",
        description='Orders, status and revenue (port 5001). Errors are {"error": "..."}.',
        operations=OPERATIONS,
    )
