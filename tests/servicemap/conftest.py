"""Service map tests. Locust is imported with gevent's patching off, as in tests/traffic: the test process uses
real threads; the generator's own processes are patched as in production."""

from __future__ import annotations

import os

os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
try:
    import locust  # noqa: F401
finally:
    del os.environ["LOCUST_SKIP_MONKEY_PATCH"]
