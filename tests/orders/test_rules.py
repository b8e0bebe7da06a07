"""Unit tests of the order rules: status transitions, totals, money, card data."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from musicstore.orders import rules
from musicstore.orders.models import Order
from musicstore.orders.schemas import OrderIn
from musicstore.orders.service import new_order
from tests.orders.conftest import line, order_body

ALLOWED = {
    ("pending", "confirmed"),
    ("pending", "cancelled"),
    ("confirmed", "shipped"),
    ("confirmed", "cancelled"),
    ("shipped", "delivered"),
}


@pytest.mark.parametrize("current", rules.STATUSES)
@pytest.mark.parametrize("target", rules.STATUSES)
def test_only_the_documented_transitions_are_allowed(current: str, target: str) -> None:
    if (current, target) in ALLOWED:
        rules.check_transition(current, target)
    else:
        with pytest.raises(rules.TransitionRefused) as refused:
            rules.check_transition(current, target)
        assert refused.value.current == current and refused.value.target == target


def test_delivered_and_cancelled_orders_are_final() -> None:
    assert rules.next_statuses("delivered") == ()
    assert rules.next_statuses("cancelled") == ()


def test_a_refusal_names_the_statuses_that_are_allowed() -> None:
    with pytest.raises(rules.TransitionRefused) as refused:
        rules.check_transition("pending", "shipped")
    assert refused.value.allowed == ("confirmed", "cancelled")
    assert "pending" in str(refused.value) and "shipped" in str(refused.value)


def test_the_total_is_the_sum_of_unit_price_times_quantity() -> None:
    total = rules.order_total([(Decimal("12.99"), 3), (Decimal("0.10"), 7), (Decimal("9999.99"), 1000)])
    assert total == Decimal("38.97") + Decimal("0.70") + Decimal("9999990.00")
    assert rules.order_total([]) == Decimal("0.00")


def test_the_total_sent_by_the_client_is_ignored() -> None:
    data = OrderIn.model_validate(order_body(items=[line(1, unit_price="10.00", quantity=2)], total="0.01"))
    assert data.computed_total() == Decimal("20.00")
    assert new_order(data, key="k").total == Decimal("20.00")


def test_unit_prices_are_kept_to_the_cent_so_equal_amounts_compare_equal() -> None:
    a = OrderIn.model_validate(order_body(items=[line(unit_price="12.9")]))
    b = OrderIn.model_validate(order_body(items=[line(unit_price="12.90")]))
    assert a.items[0].unit_price == Decimal("12.90")
    assert a.fingerprint() == b.fingerprint()


def test_money_round_trips_through_cents_exactly() -> None:
    for amount in ("0.00", "0.01", "0.10", "12.99", "9999999.99"):
        assert rules.from_cents(rules.to_cents(Decimal(amount))) == Decimal(amount)
    assert str(rules.from_cents(700)) == "7.00"


def test_order_numbers_are_readable_and_follow_the_id() -> None:
    assert rules.order_number(123) == "MS-000123"
    assert rules.order_number(1234567) == "MS-1234567"


def test_a_new_order_keeps_only_the_card_brand_and_last_four_digits() -> None:
    order = new_order(OrderIn.model_validate(order_body(card_brand="Mastercard", card_last4="4444")), key="k")
    assert (order.card_brand, order.card_last4) == ("Mastercard", "4444")
    card_columns = {c.name for c in Order.__table__.columns if "card" in c.name}
    assert card_columns == {"card_brand", "card_last4"}


@pytest.mark.parametrize(
    "extra",
    [
        {"card_number": "4242424242424242"},
        {"cvv": "123"},
        {"expiry": "12/30"},
    ],
)
def test_full_card_data_is_refused_rather_than_accepted(extra: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        OrderIn.model_validate(order_body(**extra))


@pytest.mark.parametrize("last4", ["424", "42424", "abcd", "4242424242424242", 4242])
def test_card_last4_must_be_exactly_four_digits(last4: object) -> None:
    with pytest.raises(ValidationError):
        OrderIn.model_validate(order_body(card_last4=last4))  # type: ignore[arg-type]


def test_a_new_order_is_pending_with_an_unguessable_tracking_token() -> None:
    data = OrderIn.model_validate(order_body())
    first, second = new_order(data, key="a"), new_order(data, key="b")
    assert first.status == "pending"
    assert len(first.tracking_token) >= 32 and first.tracking_token != second.tracking_token


def test_the_fingerprint_tells_different_orders_apart() -> None:
    base = OrderIn.model_validate(order_body())
    assert base.fingerprint() == OrderIn.model_validate(order_body(total="999.00")).fingerprint()
    assert base.fingerprint() != OrderIn.model_validate(order_body(items=[line(quantity=2)])).fingerprint()
    assert base.fingerprint() != OrderIn.model_validate(order_body(customer_name="Someone Else")).fingerprint()


def test_emails_are_stored_lower_case() -> None:
    assert OrderIn.model_validate(order_body(customer_email=" Ada@Example.COM ")).customer_email == "ada@example.com"
