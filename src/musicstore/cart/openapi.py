"""The cart's OpenAPI document: its JSON answers (DESIGN.md, "Cart").

The cart's views read a JSON object or a form and check each field themselves (`cart.whole_number`,
`payment.validate_payment_form`), so the request models here describe those rules for clients, with the
views' own patterns and the configured quantity limit; the fuzz test checks that the two agree.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from musicstore.cart.identity import CART_HEADER, CART_ID
from musicstore.cart.settings import CartSettings
from musicstore.common.db import MAX_ID
from musicstore.common.keys import CHECKOUT_KEY_PATTERN
from musicstore.common.openapi import (
    EVERY_SERVICE,
    JSON,
    Answer,
    Body,
    ErrorOut,
    Money,
    Operation,
    Param,
    build_document,
    errors,
    rate_limited,
)
from musicstore.common.text import EMAIL, WITHOUT_CONTROL_CHARACTERS

CARD_NUMBER = r"^[ -]*([0-9][ -]*){13,19}$"  # 13-19 digits; spaces and dashes allowed on input
EXPIRY = r"^\s*(0[1-9]|1[0-2])\s*/\s*[0-9]{2}\s*$"  # MM/YY, not in the past (not expressible here)
CVV = r"^\s*[0-9]{3,4}\s*$"


class CartLineOut(BaseModel):
    """A cart line with the store's current details."""

    model_config = ConfigDict(extra="forbid")

    album_id: int
    title: str
    artist: str
    unit_price: Money
    quantity: int = Field(ge=1)
    line_total: Money
    cover_url: str | None
    stock: int = Field(ge=0)


class CartOut(BaseModel):
    """The visitor's cart, priced by the store now."""

    model_config = ConfigDict(extra="forbid", title="Cart")

    items: list[CartLineOut]
    total: Money
    count: int = Field(ge=0, description="Copies in the cart")
    cart_id: str | None = Field(description=f"The cart's id (send it back as {CART_HEADER}); null before the first add")


class CartChangedOut(CartOut):
    """The cart after a change, with what changed in words."""

    model_config = ConfigDict(extra="forbid", title="CartChanged")

    message: str


class PaymentOut(BaseModel):
    """The order a checkout made."""

    model_config = ConfigDict(extra="forbid", title="Payment")

    order_id: int
    order_number: str
    total: Money
    tracking_url: str | None


class PendingOut(BaseModel):
    """A checkout whose outcome cannot be known yet (the order service did not answer): submit the key again."""

    model_config = ConfigDict(extra="forbid", title="Pending")

    status: Literal["pending"]
    message: str | None = None


class PaymentFieldsError(ErrorOut):
    """The card form breaks the rules: a message per field; nothing was charged and the cart is untouched."""

    model_config = ConfigDict(extra="allow")

    fields: dict[str, str] | None = None


class TotalChangedError(ErrorOut):
    """A refused checkout; when the cart's total is not the one the shopper saw, `total` is the current one."""

    model_config = ConfigDict(extra="allow")

    total: Money | None = None


class StockError(ErrorOut):
    """More copies than the store has."""

    model_config = ConfigDict(extra="allow")

    available: int | None = None


AlbumId = Field(ge=1, le=MAX_ID, description="The album's id in the store", examples=[1])
FORM = "application/x-www-form-urlencoded"
HTML = {"type": "string"}


def _request_models(max_quantity: int) -> tuple[type[BaseModel], ...]:
    """The bodies of the cart's changes and of the payment, with the configured quantity limit.

    The cart ignores fields it does not know; the document asks for none (extra="forbid").
    """

    class AddToCartIn(BaseModel):
        """Add copies of an album."""

        model_config = ConfigDict(extra="forbid")

        album_id: int = AlbumId
        quantity: int = Field(default=1, ge=1, le=max_quantity)

    class UpdateQuantityIn(BaseModel):
        """Set how many copies of an album the cart holds (0 removes it)."""

        model_config = ConfigDict(extra="forbid")

        album_id: int = AlbumId
        quantity: int = Field(ge=0, le=max_quantity)

    class RemoveItemIn(BaseModel):
        """Take an album out of the cart."""

        model_config = ConfigDict(extra="forbid")

        album_id: int = AlbumId

    class PaymentIn(BaseModel):
        """The payment form: who pays, with which card, under which checkout key."""

        model_config = ConfigDict(extra="forbid")

        name: str = Field(min_length=1, max_length=100, pattern=WITHOUT_CONTROL_CHARACTERS, examples=["Ada Lovelace"])
        email: str = Field(max_length=254, pattern=EMAIL.pattern, examples=["ada@example.com"])
        card_number: str = Field(pattern=CARD_NUMBER, examples=["4242 4242 4242 4242", "4000 0000 0000 0002"])
        expiry: str = Field(pattern=EXPIRY, examples=["12/39"])
        cvv: str = Field(pattern=CVV, examples=["123"])
        idempotency_key: str = Field(
            pattern=CHECKOUT_KEY_PATTERN, description="One per checkout; a repeat gets its answer"
        )
        expected_total: str | None = Field(
            default=None,
            pattern=r"^[0-9]{1,9}\.[0-9]{2}$",
            description="The total the shopper was shown; another total now is a 409 with the current one",
            examples=["19.99"],
        )

    return AddToCartIn, UpdateQuantityIn, RemoveItemIn, PaymentIn


PAYMENT_EXAMPLE = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "card_number": "4242 4242 4242 4242",
    "expiry": "12/39",
    "cvv": "123",
    "idempotency_key": "3f2a9c1e-7b7d-4a51-9d0e-2b6f8f7a1c55",
}
CART_ID_PARAM = Param(
    CART_HEADER,
    "header",
    {"type": "string", "pattern": CART_ID.pattern},
    "The cart (instead of the cart_id cookie): the cart_id an earlier answer gave",
)
ID_ECHO = {CART_HEADER: "The cart's id"}
# The change and payment paths answer JSON to JSON clients and a page to a form post (a browser).
REFUSED = {
    400: f"The body is not a JSON object, a field is wrong, or a form lacks the page's CSRF token "
    f"(a malformed {CART_HEADER} is always a JSON 400)",
    503: "The store does not answer; the cart is kept",
}
UNSUPPORTED = errors({415: "Neither JSON nor a form"})
TO_THE_CART = Answer("A form post: done, to the cart page")


def _change(path: str, summary: str, body: type[BaseModel], refusals: dict[int, Answer]) -> Operation:
    """One of the cart's three changes: the new cart as JSON, or back to the cart page for a form."""
    return Operation(
        "POST",
        path,
        summary,
        {
            200: Answer("The cart after the change", CartChangedOut, headers=ID_ECHO),
            303: TO_THE_CART,
            **errors(REFUSED, or_page=True),
            **UNSUPPORTED,
            **refusals,
        },
        body=Body(body, (JSON, FORM)),
        params=(CART_ID_PARAM,),
        tag="cart",
    )


def _operations(max_quantity: int) -> tuple[Operation, ...]:
    add, update, remove, pay = _request_models(max_quantity)
    too_few = {409: Answer("The store has fewer copies", StockError, or_page=True)}
    return (
        _change(
            "/add_to_cart",
            "Add copies of an album (the shop's form posts here too, from the shop's Origin)",
            add,
            {**too_few, **errors({404: "The store does not sell this album"}, or_page=True)},
        ),
        _change(
            "/update_quantity",
            "Set an album's quantity; 0 removes it",
            update,
            {**too_few, **errors({404: "The album is not in the cart, or no longer sold"}, or_page=True)},
        ),
        _change(
            "/remove_item", "Take an album out of the cart (removing one that is not there changes nothing)", remove, {}
        ),
        Operation(
            "GET",
            "/api/cart",
            "The cart with the store's current prices",
            {
                200: Answer("The cart", CartOut, headers=ID_ECHO),
                **errors({400: f"Malformed {CART_HEADER}", 503: REFUSED[503]}),
            },
            params=(CART_ID_PARAM,),
            tag="cart",
        ),
        Operation(
            "GET",
            "/checkout",
            "The checkout page (HTML): the order summary and the payment form",
            {
                200: Answer("The page", media_type="text/html", schema=HTML),
                302: Answer("The cart is empty: to the cart page"),
                **errors({400: f"Malformed {CART_HEADER}"}),
                503: Answer("The store does not answer (a page saying so)", media_type="text/html", schema=HTML),
            },
            params=(CART_ID_PARAM,),
            tag="checkout",
        ),
        Operation(
            "POST",
            "/process_payment",
            "Pay and order the cart, once per idempotency key (the checkout page's form posts here too)",
            {
                201: Answer("The order was made (now, or by this key before)", PaymentOut, headers=ID_ECHO),
                202: Answer(
                    "Not known yet whether the order was made: submit the same key again after Retry-After",
                    PendingOut,
                    headers={"Retry-After": "Seconds to wait before asking again"},
                    required_headers=frozenset({"Retry-After"}),
                ),
                303: Answer("A form post: to the confirmation page"),
                402: Answer("The card was declined; the cart is kept", ErrorOut, or_page=True),
                409: Answer(
                    "The cart changed since the shopper saw it (total: the current one), stock ran out, "
                    "another window is checking this cart out, or the key belongs to another cart",
                    TotalChangedError,
                    or_page=True,
                ),
                422: Answer("The card form breaks the rules (a message per field)", PaymentFieldsError, or_page=True),
                **errors(
                    {
                        **REFUSED,
                        400: f"{REFUSED[400]}, or the cart is empty",
                        502: "The order service refused the cart's own request (a configuration error)",
                        503: "The store or the order service is not available; the cart is kept",
                    },
                    or_page=True,
                ),
                **UNSUPPORTED,
                **rate_limited("payments are limited per cart", or_page=True),
            },
            body=Body(pay, (JSON, FORM), example=PAYMENT_EXAMPLE),
            params=(CART_ID_PARAM,),
            tag="checkout",
        ),
    )


def cart_document(settings: CartSettings) -> dict[str, Any]:
    """The cart's OpenAPI document, for its configured quantity limit."""
    return build_document(
        title="Music Store: cart",
        version="1",
        description=(
            "Carts, checkout and the simulated payment (port 5002). The cart is the cart_id cookie or the "
            f"{CART_HEADER} header. The change and payment paths take the same fields as JSON or as a form "
            '(a form needs the page\'s CSRF token); JSON clients get JSON. Errors are {"error": "..."}.'
        ),
        operations=(*_operations(settings.MAX_QUANTITY), *EVERY_SERVICE),
    )
