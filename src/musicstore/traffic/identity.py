"""How the traffic generator names itself on every request it sends."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("musicstore")
except PackageNotFoundError:  # running from a source tree that was not installed
    VERSION = "0"

USER_AGENT = f"Mozilla/5.0 (X11; Linux x86_64) musicstore-traffic/{VERSION}"
BAGGAGE = "synthetic_request=true"
HEADERS = {"User-Agent": USER_AGENT, "baggage": BAGGAGE}
