"""gunicorn's access log, with secrets in paths (order tracking tokens) masked."""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

SECRET_PATHS = re.compile(r"/track/[^/?\s]+")


def redact(line: str) -> str:
    """The line with every tracking token replaced by a placeholder."""
    return SECRET_PATHS.sub("/track/<token>", line)


class RedactingLogger(Logger):
    """An access log that never writes an order's tracking token."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        """The log line's fields, with the request line and path redacted."""
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
