"""The fault tests reuse the services' own fixtures: the cart's fakes, the store's catalog database.

The traffic generator's switches import Locust, which must not patch the test process for gevent (the rest of
the suite uses real threads): it is imported here first with patching off, as tests/traffic does."""

from __future__ import annotations

import os

os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
try:
    import locust  # noqa: F401
finally:
    del os.environ["LOCUST_SKIP_MONKEY_PATCH"]

from tests.cart.conftest import orders, store  # noqa: F401 - fixtures
from tests.store.conftest import clean_store_db, store_db_url  # noqa: F401 - fixtures
from tests.traffic.shop import shop  # noqa: F401 - the running shop fixture
