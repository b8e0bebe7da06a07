"""Traffic generator tests. Importing Locust patches the standard library for gevent; in the test process it
must not (the rest of the suite uses real threads), so it is imported here with patching off. Runs of the
generator itself happen in their own processes, patched as in production."""

from __future__ import annotations

import os

os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
try:
    import locust  # noqa: F401
finally:
    del os.environ["LOCUST_SKIP_MONKEY_PATCH"]

from tests.traffic.shop import shop  # noqa: F401 - the fixture, after Locust was imported unpatched
