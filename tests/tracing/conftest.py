"""Tracing tests. Some drive the traffic generator's journeys, and importing Locust patches the standard library
for gevent; in the test process it must not (the rest of the suite uses real threads), so it is imported here
with patching off, as tests/traffic does."""

from __future__ import annotations

import os

os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
try:
    import locust  # noqa: F401
finally:
    del os.environ["LOCUST_SKIP_MONKEY_PATCH"]
