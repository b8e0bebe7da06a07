"""gunicorn's access log, with secrets in paths (order tracking tokens) masked, and made only of what it shows."""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

from gunicorn.glogging import Logger

SECRET_PATHS = re.compile(r"/track/[^/?\s]+")
# What gunicorn's own atoms read from the WSGI environ (its request-line, user, referer and agent fields).
CORE_ENVIRON = ("REMOTE_ADDR", "REQUEST_METHOD", "RAW_URI", "SERVER_PROTOCOL", "PATH_INFO", "QUERY_STRING",
                "HTTP_REFERER", "HTTP_USER_AGENT", "HTTP_AUTHORIZATION")  # fmt: skip
HEADER_ATOM = re.compile(r"%\(\{([^}]+)\}([ieo])\)s")


def redact(line: str) -> str:
    """The line with every tracking token replaced by a placeholder."""
    return SECRET_PATHS.sub("/track/<token>", line)


class RedactingLogger(Logger):
    """An access log that never writes an order's tracking token.

    gunicorn's atoms copy every request header and every environ entry into the line's fields on each request,
    whatever the format shows (about half the access log's cost); here only the atoms, headers and environ
    entries the format names are made.
    """

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Write the request's line. To gunicorn's usual single stream handler (stdout, a file) it goes straight,
        under the handler's lock: a record through the logging module (the caller's frame looked up, a LogRecord
        made, filters and formatter asked) cost three times the line itself, on every request. Any other set-up
        (a syslog handler, a filter, a formatter of one's own, the level raised) goes through logging as before."""
        handler = self._plain_handler()
        if handler is None:
            super().access(resp, req, environ, request_time)
            return
        try:
            line = self.cfg.access_log_format % self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        except Exception:
            self.error(traceback.format_exc())
            return
        handler.acquire()
        try:
            handler.stream.write(line + handler.terminator)
            handler.flush()
        except Exception:
            handler.handleError(logging.makeLogRecord({"msg": line}))
        finally:
            handler.release()

    def _plain_handler(self) -> logging.StreamHandler[Any] | None:
        """The access log's one handler when it writes each message as it is to a stream, else None."""
        log = self.access_log
        if not self.access_log_enabled or log.disabled or not log.isEnabledFor(logging.INFO) or log.filters:
            return None
        if log.propagate:  # a logging configuration that also hands the line to its parents' handlers
            return None
        if len(log.handlers) != 1:
            return None
        handler = log.handlers[0]
        if type(handler) not in PLAIN_HANDLERS or handler.filters or handler.level > logging.INFO:
            return None
        if handler.stream is None:  # a file handler that opens its file with its first record
            return None
        formatter = handler.formatter
        if formatter is None or type(formatter) is not logging.Formatter or formatter._fmt != "%(message)s":
            return None
        return handler

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        """The line's fields the format can show, with the request line and path redacted."""
        named = self._named()
        if named.issubset(QUICK_ATOMS):
            atoms = {name: QUICK_ATOMS[name](resp, environ, request_time) for name in named}
        else:
            core = {key: environ[key] for key in CORE_ENVIRON if key in environ}
            atoms = super().atoms(resp, (), core, request_time)
        headers = {name.lower(): value for name, value in getattr(req, "headers", ())}
        for name, kind in self._headers:
            if kind == "o":
                found = _response_header(resp, name)
            else:
                found = headers.get(name.lower()) if kind == "i" else environ.get(name.upper(), environ.get(name))
            if found is not None:
                atoms[f"{{{name.lower()}}}{kind}"] = found
        for key in ("r", "U"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms

    def _named(self) -> frozenset[str]:
        """The plain atoms the format shows (its header atoms go to _headers), read once from it."""
        if self._format != self.cfg.access_log_format:
            self._format = self.cfg.access_log_format
            self._plain = frozenset(name for name in PLAIN_ATOM.findall(self._format) if not name.startswith("{"))
            self._headers = HEADER_ATOM.findall(self._format)
        return self._plain

    _format: str = ""
    _plain: frozenset[str] = frozenset()
    _headers: list[tuple[str, str]] = []


def _response_header(resp: Any, name: str) -> Any:
    for key, value in getattr(resp, "headers", ()):
        if key.lower() == name.lower():
            return value
    return None


def _status(resp: Any) -> Any:
    status = resp.status
    return status.split(None, 1)[0] if isinstance(status, str) else status


# The atoms our format shows, each made from only what it needs: gunicorn's own atoms() makes all 20 of them for
# every request (a formatted time, the user from a decoded Authorization header, ...), whatever the format shows.
# A format that names any other atom gets gunicorn's.
QUICK_ATOMS: dict[str, Any] = {
    "h": lambda _resp, environ, _time: environ.get("REMOTE_ADDR", "-"),
    "r": lambda _resp, environ, _time: f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}",
    "s": lambda resp, _environ, _time: _status(resp),
    "m": lambda _resp, environ, _time: environ.get("REQUEST_METHOD"),
    "U": lambda _resp, environ, _time: environ.get("PATH_INFO"),
    "b": lambda resp, _environ, _time: (getattr(resp, "sent", None) is not None and str(resp.sent)) or "-",
    "M": lambda _resp, _environ, time: time.seconds * 1000 + int(time.microseconds / 1000),
    "D": lambda _resp, _environ, time: time.seconds * 1000000 + time.microseconds,
}
PLAIN_ATOM = re.compile(r"%\(([^)]+)\)s")
# Handlers whose emit() is "format, write, flush" and nothing more, once their stream is open.
PLAIN_HANDLERS = (logging.StreamHandler, logging.FileHandler)
