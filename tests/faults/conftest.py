"""The fault tests reuse the services' own fixtures: the cart's fakes, the store's catalog database."""

from __future__ import annotations

from tests.cart.conftest import orders, store  # noqa: F401 - fixtures
from tests.store.conftest import clean_store_db, store_db_url  # noqa: F401 - fixtures
