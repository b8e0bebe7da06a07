"""Checks of a journey's outcome against what the services say, from outside the page that claimed it.

Each check raises `JourneyFailed` with what was expected and what was found.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


class JourneyFailed(Exception):
    """A journey's outcome is not what it should be; the message says what was expected and found."""


def expect(condition: bool, message: str) -> None:
    """Fail the journey with the message unless the condition holds."""
    if not condition:
        raise JourneyFailed(message)


def _money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _lines(items: list[dict[str, Any]]) -> list[tuple[int, int, Decimal | None]]:
    """Lines as (album id, quantity, unit price), in album order."""
    return sorted((int(i["album_id"]), int(i["quantity"]), _money(i.get("unit_price"))) for i in items)


def _describe(lines: list[tuple[int, int, Decimal | None]]) -> str:
    return ", ".join(f"{quantity} x album {album} at {price}" for album, quantity, price in lines) or "no lines"


def check_order_matches_cart(order: dict[str, Any], cart: dict[str, Any], *, email: str) -> None:
    """The order has the lines and the total the cart showed, for the shopper who paid."""
    number = order.get("order_number", order.get("id"))
    expect(
        order.get("customer_email") == email,
        f"order {number}: expected customer e-mail {email}, found {order.get('customer_email')}",
    )
    expected, found = _lines(cart.get("items", [])), _lines(order.get("items", []))
    expect(expected == found, f"order {number}: expected lines {_describe(expected)}, found {_describe(found)}")
    expect(
        _money(order.get("total")) == _money(cart.get("total")),
        f"order {number}: expected total {cart.get('total')} (as the cart showed), found {order.get('total')}",
    )


def check_answer_matches_order(answer: dict[str, Any], order: dict[str, Any]) -> None:
    """The checkout's answer names the order that exists, with its total."""
    expect(
        answer.get("order_number") == order.get("order_number"),
        f"the checkout answered order {answer.get('order_number')}, the order service has {order.get('order_number')}",
    )
    expect(
        _money(answer.get("total")) == _money(order.get("total")),
        f"order {order.get('order_number')}: the checkout answered total {answer.get('total')}, "
        f"the order service has {order.get('total')}",
    )


def check_one_order(orders: list[dict[str, Any]], *, email: str) -> dict[str, Any]:
    """Exactly one order exists for the shopper's e-mail; it is returned."""
    expect(len(orders) == 1, f"expected 1 order for {email} in the order service, found {len(orders)}")
    return orders[0]


def check_no_order(orders: list[dict[str, Any]], *, email: str) -> None:
    """No order exists for the shopper's e-mail (a declined card makes none)."""
    numbers = ", ".join(str(o.get("order_number")) for o in orders)
    expect(not orders, f"expected no order for {email} after a decline, found {len(orders)} ({numbers})")


def check_cart_kept(before: dict[str, Any], after: dict[str, Any]) -> None:
    """The cart still has every line it had (after a decline or a sold-out answer)."""
    expected, found = _lines(before.get("items", [])), _lines(after.get("items", []))
    expect(
        [(a, q) for a, q, _ in expected] == [(a, q) for a, q, _ in found],
        f"expected the cart kept ({_describe(expected)}), found {_describe(found)}",
    )


def check_lines_left_cart(before: dict[str, Any], after: dict[str, Any]) -> None:
    """The ordered lines are gone from the cart after the order."""
    ordered = {int(i["album_id"]) for i in before.get("items", [])}
    left = sorted(ordered & {int(i["album_id"]) for i in after.get("items", [])})
    expect(not left, f"expected the ordered lines to leave the cart, found albums {left} still in it")
