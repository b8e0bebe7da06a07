"""Card rules and the simulated payment.

Rules (the seed's): the number has 13-19 digits, spaces and dashes allowed on input, and no Luhn
check (any 13-19 digit number is accepted); the expiry is MM/YY and not in the past (a card is
good through the last day of its month); the CVV has 3 or 4 digits; a name without control
characters and an e-mail are required. The e-mail rule is musicstore.common.text.is_email, the one
the order service applies too, so a form the cart accepts is never refused as an order. Only the
brand and the last four digits are ever kept or logged.

Payment is approved, except for the documented test numbers in DECLINED_TEST_CARDS, which always
decline (with the reason given), so the decline path can be exercised on purpose:

    4000 0000 0000 0002  declined
    4000 0000 0000 9995  insufficient funds
    4000 0000 0000 0069  expired card

The fault switches (musicstore.common.faults) add to this: paymentLatencyMs makes the payment that much
slower, paymentFailure declines that share of the payments that would be approved.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from musicstore.common.text import has_control_characters, is_email

DECLINED_TEST_CARDS: Mapping[str, str] = {
    "4000000000000002": "Your card was declined.",
    "4000000000009995": "Your card was declined: insufficient funds.",
    "4000000000000069": "Your card was declined: the card has expired.",
}

INJECTED_DECLINE = "Your payment was declined: injected fault (paymentFailure)."
EXPIRY = re.compile(r"^(\d{2})\s*/\s*(\d{2})$")
MAX_YEARS_AHEAD = 20


@dataclass(frozen=True)
class Card:
    """A card as typed; its number never appears in a repr or a log."""

    number: str = field(repr=False)
    expiry_month: int
    expiry_year: int

    @property
    def brand(self) -> str:
        """The card network, from the number's prefix."""
        return card_brand(self.number)

    @property
    def last4(self) -> str:
        """The last four digits, the only part of the number we keep."""
        return self.number[-4:]


@dataclass(frozen=True)
class PaymentForm:
    """A checked checkout form: who pays, with which card."""

    name: str
    email: str
    card: Card


class InvalidPaymentForm(Exception):
    """Some fields break the rules; `errors` maps each to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid payment form")
        self.errors = errors


@dataclass(frozen=True)
class PaymentResult:
    """The simulated processor's answer."""

    approved: bool
    reason: str = ""


def card_brand(number: str) -> str:
    """visa, mastercard, amex, discover, or card when the prefix is none of those."""
    if number.startswith("4"):
        return "visa"
    if 51 <= int(number[:2] or 0) <= 55 or 2221 <= int(number[:4] or 0) <= 2720:
        return "mastercard"
    if number[:2] in ("34", "37"):
        return "amex"
    if number.startswith(("6011", "65")):
        return "discover"
    return "card"


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def check_card_number(raw: str) -> str | None:
    """The digits of a well-formed card number, or None."""
    digits = re.sub(r"[\s-]", "", raw)
    return digits if digits.isascii() and digits.isdigit() and 13 <= len(digits) <= 19 else None


def check_expiry(raw: str, today: date) -> tuple[int, int] | None:
    """(month, four-digit year) of an MM/YY expiry that has not passed, or None."""
    match = EXPIRY.match(raw)
    if not match:
        return None
    month, year = int(match[1]), 2000 + int(match[2])
    if not 1 <= month <= 12 or (year, month) < (today.year, today.month):
        return None
    return None if year > today.year + MAX_YEARS_AHEAD else (month, year)


def validate_payment_form(data: Mapping[str, Any], today: date | None = None) -> PaymentForm:
    """Check a checkout form against the card rules, or raise InvalidPaymentForm with every error."""
    today = today or date.today()
    errors: dict[str, str] = {}
    name, email = _text(data, "name"), _text(data, "email")
    if not name or len(name) > 100 or has_control_characters(name):
        errors["name"] = "Enter the name on the card (up to 100 characters)."
    if not is_email(email):
        errors["email"] = "Enter a valid e-mail address."
    number = check_card_number(_text(data, "card_number"))
    if number is None:
        errors["card_number"] = "Enter a card number of 13 to 19 digits."
    expiry = check_expiry(_text(data, "expiry"), today)
    if expiry is None:
        errors["expiry"] = "Enter the expiry as MM/YY; it must not be in the past."
    if not re.fullmatch(r"\d{3,4}", _text(data, "cvv")):
        errors["cvv"] = "Enter the 3 or 4 digit security code."
    if errors or number is None or expiry is None:
        raise InvalidPaymentForm(errors)
    return PaymentForm(name=name, email=email, card=Card(number, expiry[0], expiry[1]))


@dataclass(frozen=True)
class InjectedFaults:
    """The payment faults switched on for one checkout: added latency, a share of approvals declined."""

    latency_ms: int = 0
    failure_share: float = 0.0
    injected: Callable[[str], None] = lambda flag: None  # counts, logs and marks the fault on the answer


NO_FAULTS = InjectedFaults()


def charge(card: Card, latency_ms: int = 0, faults: InjectedFaults = NO_FAULTS) -> PaymentResult:
    """Simulate the processor: wait the configured latency, then approve unless it is a test decline."""
    if faults.latency_ms:
        faults.injected("paymentLatencyMs")
    if latency_ms or faults.latency_ms:
        # simulates the payment processor's latency, with an injected fault's on top (a deliberate delay)
        time.sleep((latency_ms + faults.latency_ms) / 1000)
    reason = DECLINED_TEST_CARDS.get(card.number)
    if reason:
        return PaymentResult(approved=False, reason=reason)
    if faults.failure_share and random.random() < faults.failure_share:  # noqa: S311 - a simulation, not a secret
        faults.injected("paymentFailure")
        return PaymentResult(approved=False, reason=INJECTED_DECLINE)
    return PaymentResult(approved=True)
