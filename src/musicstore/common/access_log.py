"""gunicorn's access log, with secrets in paths (order tracking tokens) masked, and made only of what it shows."""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

SECRET_PATHS = re.compile(r"/track/[^/?\s]+")
# What gunicorn's own atoms read from the WSGI environ (its request-line, user, referer and agent fields).
CORE_ENVIRON = ("REMOTE_ADDR", "REQUEST_METHOD", "RAW_URI", "SERVER_PROTOCOL", "PATH_INFO", "QUERY_STRING",
                "HTTP_REFERER", "HTTP_USER_AGENT", "HTTP_AUTHORIZATION")  # fmt: skip
HEADER_ATOM = re.compile(r"%\(\{([^}]+)\}([ie])\)s")


def redact(line: str) -> str:
    """The line with every tracking token replaced by a placeholder."""
    return SECRET_PATHS.sub("/track/<token>", line)


class RedactingLogger(Logger):
    """An access log that never writes an order's tracking token.

    gunicorn's atoms copy every request header and every environ entry into the line's fields on each request,
    whatever the format shows (about half the access log's cost); here only the request headers and environ
    entries the format names are added (response headers stay: few, and {name}o is how the request id is shown).
    """

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        """The line's fields the format can show, with the request line and path redacted."""
        core = {key: environ[key] for key in CORE_ENVIRON if key in environ}
        atoms: dict[str, Any] = super().atoms(resp, (), core, request_time)
        headers = {name.lower(): value for name, value in getattr(req, "headers", ())}
        for name, kind in HEADER_ATOM.findall(self.cfg.access_log_format):
            found = headers.get(name.lower()) if kind == "i" else environ.get(name.upper(), environ.get(name))
            if found is not None:
                atoms[f"{{{name.lower()}}}{kind}"] = found
        for key in ("r", "U"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
