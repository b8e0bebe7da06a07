"""Money is Decimal, shown with two decimals, never through float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def money(amount: Decimal | int | str) -> str:
    """An amount as a string with two decimals (rounded half up), e.g. "12.99"."""
    return f"{Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP):.2f}"


def money_grouped(amount: Decimal | int | str) -> str:
    """An amount with thousands separators, e.g. "10,363.30"."""
    return f"{Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"
