"""Requests the fuzz run leaves out because they hit a defect already reported to the code's owner.

Each filter names its defect. Remove it once the defect is fixed: the fuzz run then checks the fix.
Loaded by schemathesis (SCHEMATHESIS_HOOKS) in its own process, not by pytest.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import schemathesis


@schemathesis.hook("filter_body").apply_to(method="POST", path="/process_payment")  # type: ignore[attr-defined]
def expected_total_beyond_decimal_precision(ctx: Any, body: Any) -> bool:
    """cart/checkout_views.py `_expected_total`: `round(amount, 2)` of an amount over 28 digits (such as
    7.46e+128, or "3820301237929123038156966936002800.35") raises decimal.InvalidOperation, answered 500."""
    total = body.get("expected_total") if isinstance(body, dict) else None
    if isinstance(total, bool) or not isinstance(total, (int, float, str)):
        return True
    try:
        amount = Decimal(str(total).strip().lstrip("$"))
        if amount.is_finite():
            round(amount, 2)
    except InvalidOperation:
        return False
    return True
