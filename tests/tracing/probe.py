"""Run by the tests in a fresh interpreter (`python -m tests.tracing.probe DIR`), so that tracing is set up once,
from this process's environment, as in a gunicorn worker.

It builds the real cart app against a fake store on loopback, sends one add-to-cart through it with a traceparent
and baggage, and prints as JSON what the store received and what could be seen inside the process: the threads
before the app was made and after the request, whether the OpenTelemetry SDK was loaded, the tracer provider,
and whose before_request hook runs first.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ALBUM = {"id": 1, "title": "Blue Train", "artist": "John Coltrane", "genre": "Jazz", "year": 1957,
         "price": "12.99", "stock": 5, "cover_url": ""}  # fmt: skip
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
BAGGAGE = "synthetic_request=true"


class FakeStore(BaseHTTPRequestHandler):
    """Answers the cart's album lookups and records the headers of every call."""

    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        FakeStore.seen.append({k.lower(): v for k, v in self.headers.items()})
        url = urlsplit(self.path)
        body: Any = ALBUM
        if url.path == "/api/albums":
            ids = parse_qs(url.query).get("ids", [""])[0].split(",")
            body = {"items": [ALBUM] if "1" in ids else [], "total": 1, "page": 1, "per_page": 100}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def main(data_dir: Path) -> dict[str, Any]:
    """Serve the fake store, make the cart app, send one add-to-cart; what was seen."""
    server = HTTPServer(("127.0.0.1", 0), FakeStore)
    poll = {"poll_interval": 0.02}  # shutdown() waits for serve_forever to look
    threading.Thread(target=server.serve_forever, kwargs=poll, name="fake-store", daemon=True).start()
    store_url = f"http://127.0.0.1:{server.server_port}"

    from musicstore.cart import create_app, prepare
    from musicstore.cart.settings import CartSettings

    settings = CartSettings(DATA_DIR=data_dir, SECRET_KEY="probe-secret", ADMIN_PASSWORD="probe-admin",
                            SERVICE_TOKEN="probe-token", STORE_SERVICE_URL=store_url, ORDER_SERVICE_URL=store_url,
                            CART_SERVICE_URL="http://127.0.0.1:1", RECONCILE_INTERVAL=0)  # fmt: skip
    prepare(settings)
    before = sorted(thread.name for thread in threading.enumerate())
    app = create_app(settings)
    response = app.test_client().post(
        "/add_to_cart", json={"album_id": 1}, headers={"traceparent": TRACEPARENT, "baggage": BAGGAGE}
    )
    after = sorted(thread.name for thread in threading.enumerate())
    server.shutdown()

    from opentelemetry import trace

    return {
        "status": response.status_code,
        "store_saw": FakeStore.seen,
        "threads_before": before,
        "threads_after": after,
        "sdk_loaded": "opentelemetry.sdk" in sys.modules,
        "provider": type(trace.get_tracer_provider()).__name__,
        "first_hook": app.before_request_funcs[None][0].__module__,
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
