"""Verification of a journey's outcome: a mismatch fails it with what was expected and what was found."""

from __future__ import annotations

from typing import Any

import pytest

from musicstore.traffic import verify

CART = {
    "items": [
        {"album_id": 7, "quantity": 2, "unit_price": "12.99"},
        {"album_id": 3, "quantity": 1, "unit_price": "9.50"},
    ],
    "total": "35.48",
}


def order(**changes: Any) -> dict[str, Any]:
    """The order the order service would have for CART."""
    body = {
        "id": 12,
        "order_number": "MS-000012",
        "customer_email": "a@example.com",
        "items": [
            {"album_id": 3, "quantity": 1, "unit_price": "9.50"},
            {"album_id": 7, "quantity": 2, "unit_price": "12.99"},
        ],
        "total": "35.48",
    }
    return {**body, **changes}


def test_an_order_with_the_lines_and_total_the_cart_showed_passes() -> None:
    verify.check_order_matches_cart(order(), CART, email="a@example.com")


def test_a_tampered_total_fails_naming_the_expected_and_the_found_total() -> None:
    with pytest.raises(verify.JourneyFailed) as failure:
        verify.check_order_matches_cart(order(total="45.48"), CART, email="a@example.com")
    assert str(failure.value) == "order MS-000012: expected total 35.48 (as the cart showed), found 45.48"


def test_other_lines_fail_naming_both_sets_of_lines() -> None:
    items = [
        {"album_id": 7, "quantity": 1, "unit_price": "12.99"},
        {"album_id": 3, "quantity": 1, "unit_price": "9.50"},
    ]
    with pytest.raises(verify.JourneyFailed, match=r"expected lines 1 x album 3 at 9.50, 2 x album 7 at 12.99, found"):
        verify.check_order_matches_cart(order(items=items), CART, email="a@example.com")


def test_an_order_of_another_shopper_fails() -> None:
    with pytest.raises(verify.JourneyFailed, match=r"expected customer e-mail a@example\.com, found b@example\.com"):
        verify.check_order_matches_cart(order(customer_email="b@example.com"), CART, email="a@example.com")


def test_exactly_one_order_is_expected_after_a_purchase() -> None:
    assert verify.check_one_order([order()], email="a@example.com")["id"] == 12
    with pytest.raises(verify.JourneyFailed, match=r"expected 1 order for a@example\.com in .*, found 2"):
        verify.check_one_order([order(), order(id=13)], email="a@example.com")
    with pytest.raises(verify.JourneyFailed, match="found 0"):
        verify.check_one_order([], email="a@example.com")


def test_a_decline_that_made_an_order_fails() -> None:
    verify.check_no_order([], email="a@example.com")
    with pytest.raises(
        verify.JourneyFailed, match=r"expected no order for a@example.com after a decline, found 1 \(MS-000012\)"
    ):
        verify.check_no_order([order()], email="a@example.com")


def test_a_cart_that_lost_a_line_after_a_refusal_fails() -> None:
    verify.check_cart_kept(CART, {**CART, "items": list(reversed(CART["items"]))})
    with pytest.raises(verify.JourneyFailed, match="expected the cart kept"):
        verify.check_cart_kept(CART, {"items": CART["items"][:1], "total": "25.98"})


def test_ordered_lines_left_in_the_cart_fail() -> None:
    verify.check_lines_left_cart(CART, {"items": [], "total": "0.00"})
    with pytest.raises(verify.JourneyFailed, match=r"found albums \[7\] still in it"):
        verify.check_lines_left_cart(CART, {"items": CART["items"][:1]})


def test_the_checkout_answer_must_name_the_order_that_exists() -> None:
    verify.check_answer_matches_order({"order_number": "MS-000012", "total": "35.48"}, order())
    with pytest.raises(verify.JourneyFailed, match="the checkout answered order MS-000011"):
        verify.check_answer_matches_order({"order_number": "MS-000011", "total": "35.48"}, order())
