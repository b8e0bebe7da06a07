"""The cart's settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from musicstore.cart.settings import CartSettings


def test_the_carts_live_in_sqlite_under_the_data_dir_by_default(tmp_path: Path) -> None:
    settings = CartSettings(DATA_DIR=tmp_path)
    assert settings.uses_sqlite() and settings.database_url() == f"sqlite:///{tmp_path / 'cart.db'}"


def test_cart_db_path_moves_the_sqlite_file(tmp_path: Path) -> None:
    assert CartSettings(CART_DB_PATH=tmp_path / "x.db").database_url() == f"sqlite:///{tmp_path / 'x.db'}"


def test_a_postgresql_url_wins_and_uses_psycopg_3() -> None:
    settings = CartSettings(CART_DATABASE_URL="postgresql://u:p@db:5432/cart")
    assert not settings.uses_sqlite() and settings.database_url() == "postgresql+psycopg://u:p@db:5432/cart"


def test_payment_latency_is_zero_and_quantities_stop_at_ten_by_default() -> None:
    settings = CartSettings()
    assert (settings.PAYMENT_LATENCY_MS, settings.MAX_QUANTITY) == (0, 10)


@pytest.mark.parametrize("limit", ["lots", "10 per fortnight", ""])
def test_an_unreadable_payment_rate_limit_stops_start_up(limit: str) -> None:
    with pytest.raises(ValidationError):
        CartSettings(PAYMENT_RATE_LIMIT=limit)
