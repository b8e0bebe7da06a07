"""JSON (or plain text) logs on stdout, carrying the service name, the level, the request id and the trace id."""

from __future__ import annotations

import logging
import random
import sys
from typing import TextIO

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

from musicstore.common.tracing import current_trace_id

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_ENVIRON = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")  # the header as WSGI names it


class _ContextFilter(logging.Filter):
    """Adds the service name, the current request id and the current trace id ("-" for none) to every record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        record.trace_id = current_trace_id()
        return True


def log_handler(service: str, fmt: str = "json", *, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing a service's log lines to the stream (stdout by default) in the chosen format."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.addFilter(_ContextFilter(service))
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}{service}{request_id}{trace_id}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"))
    return handler


def configure_logging(service: str, fmt: str = "json", level: str = "INFO") -> None:
    """Send the process's logs to stdout in the chosen format."""
    root = logging.getLogger()
    root.handlers[:] = [log_handler(service, fmt)]
    root.setLevel(level.upper())
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def current_request_id() -> str | None:
    """The id of the request being served, to pass on to downstream services."""
    return g.get("request_id") if has_request_context() else None


def new_request_id() -> str:
    """32 random hex digits, like a uuid4's: an id to follow a request by, not a secret, so from Python's own
    generator (reseeded in every forked worker), without a system call for each request as uuid4 makes."""
    return f"{random.getrandbits(128):032x}"


def init_request_ids(app: Flask) -> None:
    """Take the caller's request id or make one, and echo it in the response."""

    @app.before_request
    def _take_request_id() -> None:
        incoming = request.environ.get(REQUEST_ID_ENVIRON, "")
        valid = 0 < len(incoming) <= 100 and incoming.replace("-", "").isalnum()
        g.request_id = incoming if valid else new_request_id()

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        return response
