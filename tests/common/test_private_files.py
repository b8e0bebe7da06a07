"""Files with customers' data or secrets are created private to the service's user (0600)."""

from __future__ import annotations

import stat
from pathlib import Path

import musicstore.cart
import musicstore.orders
from musicstore.cart.settings import CartSettings
from musicstore.orders.settings import OrderSettings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_sqlite_files_of_orders_and_carts_are_private(data_dir: Path) -> None:
    musicstore.orders.prepare(OrderSettings(DATA_DIR=data_dir))
    musicstore.cart.prepare(CartSettings(DATA_DIR=data_dir))
    assert mode(data_dir / "orders.db") == 0o600
    assert mode(data_dir / "cart.db") == 0o600


def test_an_existing_sqlite_file_readable_by_others_is_made_private(data_dir: Path) -> None:
    (data_dir / "orders.db").touch(mode=0o644)
    (data_dir / "orders.db").chmod(0o644)
    musicstore.orders.prepare(OrderSettings(DATA_DIR=data_dir))
    assert mode(data_dir / "orders.db") == 0o600
