"""How the traffic generator names itself on every request it sends."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("musicstore")
except PackageNotFoundError:  # running from a source tree that was not installed
    VERSION = "0"

# The services count a request's caller by its User-Agent (musicstore.common.metrics.caller_label): the HTTP
# users' requests are the generator's own ("traffic"); what its Chromium loads is a browser's ("Mozilla").
USER_AGENT = f"musicstore-traffic/{VERSION}"
BROWSER_USER_AGENT = f"Mozilla/5.0 (X11; Linux x86_64) {USER_AGENT}"
BAGGAGE = "synthetic_request=true"
HEADERS = {"User-Agent": USER_AGENT, "baggage": BAGGAGE}
