"""The order rules: statuses and their transitions, money and totals, order numbers."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from musicstore.common.money import CENT

PENDING, CONFIRMED, SHIPPED, DELIVERED, CANCELLED = "pending", "confirmed", "shipped", "delivered", "cancelled"
STATUSES = (PENDING, CONFIRMED, SHIPPED, DELIVERED, CANCELLED)

# pending → confirmed → shipped → delivered, and cancelled from pending or confirmed.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    PENDING: (CONFIRMED, CANCELLED),
    CONFIRMED: (SHIPPED, CANCELLED),
    SHIPPED: (DELIVERED,),
    DELIVERED: (),
    CANCELLED: (),
}

# What the dashboard's buttons say for each target status.
ACTIONS = {CONFIRMED: "Confirm", SHIPPED: "Mark shipped", DELIVERED: "Mark delivered", CANCELLED: "Cancel order"}


class TransitionRefused(Exception):
    """The order cannot move from its status to the one asked for."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"an order that is {current} cannot become {target}")
        self.current = current
        self.target = target
        self.allowed = next_statuses(current)


def next_statuses(status: str) -> tuple[str, ...]:
    """The statuses an order may move to from `status`."""
    return TRANSITIONS.get(status, ())


def check_transition(current: str, target: str) -> None:
    """Raise TransitionRefused unless `current → target` is allowed."""
    if target not in next_statuses(current):
        raise TransitionRefused(current, target)


def to_cents(amount: Decimal) -> int:
    """An amount of money as whole cents (rounded half up)."""
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> Decimal:
    """Whole cents as an amount of money with two decimals."""
    return (Decimal(cents) / 100).quantize(CENT)


def line_total(unit_price: Decimal, quantity: int) -> Decimal:
    """The price of one line: unit price times quantity, to the cent."""
    return (unit_price * quantity).quantize(CENT, rounding=ROUND_HALF_UP)


def order_total(lines: Iterable[tuple[Decimal, int]]) -> Decimal:
    """The total of an order, recomputed from its (unit price, quantity) lines."""
    return sum((line_total(price, quantity) for price, quantity in lines), Decimal("0.00")).quantize(CENT)


def order_number(order_id: int) -> str:
    """The readable order number of a database id, such as MS-000123."""
    return f"MS-{order_id:06d}"
