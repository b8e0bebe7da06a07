"""`python -m musicstore.traffic`: the traffic generator (what `musicstore traffic` runs)."""

# Locust patches the standard library for gevent when it is imported: that must come before anything else.
import locust  # noqa: F401, I001

import sys

from musicstore.traffic.command import main

sys.exit(main())
