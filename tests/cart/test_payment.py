"""Card rules and the simulated payment."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from musicstore.cart.payment import (
    DECLINED_TEST_CARDS,
    Card,
    InvalidPaymentForm,
    card_brand,
    charge,
    validate_payment_form,
)

TODAY = date(2026, 6, 15)
GOOD = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "card_number": "4242 4242 4242 4242",
    "expiry": "06/26",
    "cvv": "123",
}


def errors_for(**changes: Any) -> dict[str, str]:
    with pytest.raises(InvalidPaymentForm) as caught:
        validate_payment_form({**GOOD, **changes}, today=TODAY)
    return caught.value.errors


def test_a_valid_form_gives_the_card_with_brand_and_last_four() -> None:
    form = validate_payment_form(GOOD, today=TODAY)
    assert (form.name, form.email) == ("Ada Lovelace", "ada@example.com")
    assert (form.card.brand, form.card.last4) == ("visa", "4242")
    assert (form.card.expiry_month, form.card.expiry_year) == (6, 2026)


@pytest.mark.parametrize("number", ["4242424242424", "4242-4242-4242-4242", "1234 5678 9012 3456 789", "1234567890123"])
def test_any_13_to_19_digit_number_is_accepted_without_a_luhn_check(number: str) -> None:
    assert validate_payment_form({**GOOD, "card_number": number}, today=TODAY).card.number.isdigit()


@pytest.mark.parametrize(
    "number",
    ["", "424242424242", "12345678901234567890", "4242 4242 4242 424x", "\uff14\uff12" * 7, "4242.4242.4242.4242"],
)
def test_card_numbers_of_the_wrong_length_or_with_other_characters_are_refused(number: str) -> None:
    assert set(errors_for(card_number=number)) == {"card_number"}


@pytest.mark.parametrize("expiry", ["05/26", "13/30", "00/30", "6/26", "0626x", "12/2030", "", "12/99"])
def test_expiry_must_be_mm_yy_and_not_in_the_past(expiry: str) -> None:
    assert set(errors_for(expiry=expiry)) == {"expiry"}


def test_a_card_is_good_through_the_last_day_of_its_month() -> None:
    assert validate_payment_form({**GOOD, "expiry": "06/26"}, today=date(2026, 6, 30)).card.expiry_month == 6


@pytest.mark.parametrize("cvv", ["", "12", "12345", "12a", " "])
def test_cvv_must_have_three_or_four_digits(cvv: str) -> None:
    assert set(errors_for(cvv=cvv)) == {"cvv"}


@pytest.mark.parametrize(
    "email",
    [
        "",
        "ada",
        "ada@",
        "ada@example",
        "a da@example.com",
        "x" * 250 + "@e.com",
        "bob@mail..com",
        "bob@.mail.com",
        "bob@mail.com.",
        "x" * 65 + "@example.com",
        "bob@@example.com",
        "bob\x00@example.com",
    ],
)
def test_a_valid_email_is_required(email: str) -> None:
    assert set(errors_for(email=email)) == {"email"}


@pytest.mark.parametrize("email", ["ada@example.com", "x" * 64 + "@example.com", "a.b+c@mail.example.co.uk"])
def test_the_email_rule_is_the_one_the_order_service_uses(email: str) -> None:
    assert validate_payment_form({**GOOD, "email": email}, today=TODAY).email == email


@pytest.mark.parametrize("name", ["Ada\x00", "Ada\nLovelace", "x" * 101])
def test_a_name_with_control_characters_or_too_long_is_refused(name: str) -> None:
    assert set(errors_for(name=name)) == {"name"}


def test_every_broken_field_is_reported_at_once() -> None:
    errors = errors_for(name=" ", email=None, card_number=42, expiry="", cvv="")
    assert set(errors) == {"name", "email", "card_number", "expiry", "cvv"}


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4111111111111111", "visa"),
        ("5105105105105100", "mastercard"),
        ("2221000000000009", "mastercard"),
        ("2720990000000007", "mastercard"),
        ("378282246310005", "amex"),
        ("341111111111111", "amex"),
        ("6011111111111117", "discover"),
        ("6500000000000002", "discover"),
        ("3530111333300000", "card"),
        ("2720999999999999", "mastercard"),
        ("2721000000000000", "card"),
        ("5600000000000000", "card"),
    ],
)
def test_the_brand_comes_from_the_prefix(number: str, brand: str) -> None:
    assert card_brand(number) == brand


def test_the_card_number_never_appears_in_a_repr() -> None:
    card = Card("4242424242424242", 12, 2030)
    assert "4242424242424242" not in repr(card)


@pytest.mark.parametrize("number", sorted(DECLINED_TEST_CARDS))
def test_documented_test_numbers_decline_with_a_reason(number: str) -> None:
    result = charge(Card(number, 12, 2030))
    assert not result.approved and "declined" in result.reason


def test_other_numbers_are_approved() -> None:
    assert charge(Card("4000000000000010", 12, 2030)).approved
