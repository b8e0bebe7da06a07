"""The access log never writes an order's tracking token."""

from __future__ import annotations

import logging
from typing import Any

from musicstore.common.access_log import RedactingLogger, redact


def test_tracking_tokens_are_masked_in_request_lines() -> None:
    line = "GET /track/PlsoEYabxYOiIUqEs55lIw4zBwC-GomI?x=1 HTTP/1.1"
    assert redact(line) == "GET /track/<token>?x=1 HTTP/1.1"
    assert "PlsoEYab" not in redact(line)


def test_other_paths_are_left_alone() -> None:
    assert redact("GET /api/orders/12 HTTP/1.1") == "GET /api/orders/12 HTTP/1.1"


def access_line(log_format: str, *, path: str = "/api/orders/12", headers: tuple[tuple[str, str], ...] = ()) -> str:
    """The access-log line RedactingLogger writes for one request, in this format."""
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    config = Config()
    config.set("accesslog", "-")
    config.set("access_log_format", log_format)
    logger = RedactingLogger(config)
    environ = {"REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "GET", "RAW_URI": path, "PATH_INFO": path,
               "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "", "HTTP_USER_AGENT": "curl/8",
               "wsgi.version": (1, 0)}  # fmt: skip
    resp = SimpleNamespace(status="200 OK", sent=42, headers=[("X-Request-Id", "rid-1")])
    req = SimpleNamespace(headers=list(headers))
    atoms = logger.atoms_wrapper_class(logger.atoms(resp, req, environ, timedelta(milliseconds=7)))
    return log_format % atoms


def test_the_access_line_shows_the_request_the_status_the_time_and_the_request_id() -> None:
    line = access_line('%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s')
    assert line == '127.0.0.1 "GET /api/orders/12 HTTP/1.1" 200 42 7ms rid=rid-1'


def test_a_request_header_or_environ_entry_the_format_names_is_shown_and_a_missing_one_is_a_dash() -> None:
    line = access_line("%({x-forwarded-for}i)s %({wsgi.version}e)s %({x-absent}i)s %(a)s",
                       headers=(("X-Forwarded-For", "10.0.0.9"),))  # fmt: skip
    assert line == "10.0.0.9 (1, 0) - curl/8"


def test_a_tracking_token_never_reaches_the_access_line() -> None:
    line = access_line('"%(r)s" %(U)s', path="/track/PlsoEYabxYOiIUqEs55lIw4zBwC-GomI")
    assert "PlsoEYab" not in line and line.count("/track/<token>") == 2


def gunicorn_line(log_format: str) -> str:
    """The line gunicorn's own logger writes for the same request as access_line."""
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    config = Config()
    config.set("access_log_format", log_format)
    logger = Logger(config)
    environ = {"REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "GET", "RAW_URI": "/api/orders/12",
               "PATH_INFO": "/api/orders/12", "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "",
               "HTTP_USER_AGENT": "curl/8", "wsgi.version": (1, 0)}  # fmt: skip
    resp = SimpleNamespace(status="200 OK", sent=42, headers=[("X-Request-Id", "rid-1")])
    atoms = logger.atoms_wrapper_class(
        logger.atoms(resp, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=7))
    )
    return log_format % atoms


def test_the_services_format_gives_the_line_gunicorn_itself_would_write() -> None:
    log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms %(D)sus %(m)s %(U)s rid=%({x-request-id}o)s'
    assert access_line(log_format) == gunicorn_line(log_format)


def test_a_format_with_any_other_atom_is_made_by_gunicorn_and_still_redacted() -> None:
    line = access_line('%(h)s %(l)s "%(r)s" %(a)s', path="/track/PlsoEYabxYOiIUqEs55lIw4zBwC-GomI")
    assert line == '127.0.0.1 - "GET /track/<token> HTTP/1.1" curl/8'


def logged_lines(*, log_format: str, path: str, set_up: Any = None) -> list[str]:
    """The lines RedactingLogger writes to its access stream for one request (after `set_up(logger)`), with its
    handlers as gunicorn sets them up (pytest's log capture, on every logger meanwhile, is left out)."""
    import io
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    config = Config()
    config.set("accesslog", "-")
    config.set("access_log_format", log_format)
    logger = RedactingLogger(config)
    access = logger.access_log
    kept, level, filters = access.handlers, access.level, list(access.filters)
    access.handlers = [h for h in access.handlers if getattr(h, "_gunicorn", False)]
    stream = io.StringIO()
    earlier = access.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    try:
        if set_up is not None:
            set_up(logger)
        environ = {"REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "GET", "RAW_URI": path, "PATH_INFO": path,
                   "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": ""}  # fmt: skip
        resp = SimpleNamespace(status="200 OK", sent=42, headers=[("X-Request-Id", "rid-1")])
        logger.access(resp, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=7))
    finally:  # the logger is gunicorn's, shared by the whole test run: left as it was found
        access.handlers[0].setStream(earlier)  # type: ignore[attr-defined]
        access.handlers, access.filters = kept, filters
        access.setLevel(level)
    return stream.getvalue().splitlines()


SERVICES_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'


def test_the_line_written_to_the_stream_is_the_formatted_line_and_nothing_else() -> None:
    lines = logged_lines(log_format=SERVICES_FORMAT, path="/api/orders/12")
    assert lines == ['127.0.0.1 "GET /api/orders/12 HTTP/1.1" 200 42 7ms rid=rid-1']


def test_the_usual_stream_gets_its_line_without_a_log_record_being_made() -> None:
    def no_records(logger: Any) -> None:
        def refuse(*_args: Any, **_kwargs: Any) -> None:
            raise AssertionError("a LogRecord was made")

        logger.access_log.makeRecord = refuse

    try:
        lines = logged_lines(log_format=SERVICES_FORMAT, path="/api/orders/12", set_up=no_records)
    finally:
        vars(logging.getLogger("gunicorn.access")).pop("makeRecord", None)
    assert lines == ['127.0.0.1 "GET /api/orders/12 HTTP/1.1" 200 42 7ms rid=rid-1']


def test_a_written_line_never_carries_a_tracking_token() -> None:
    lines = logged_lines(log_format=SERVICES_FORMAT, path="/track/PlsoEYabxYOiIUqEs55lIw4zBwC-GomI")
    assert len(lines) == 1 and "PlsoEYab" not in lines[0] and "/track/<token>" in lines[0]


def test_a_filter_on_the_access_log_still_sees_every_line_through_logging() -> None:
    seen: list[str] = []

    def keep(record: logging.LogRecord) -> bool:
        seen.append(record.getMessage())
        return "/healthz" not in record.getMessage()

    lines = logged_lines(log_format=SERVICES_FORMAT, path="/healthz",
                            set_up=lambda logger: logger.access_log.addFilter(keep))  # fmt: skip
    assert lines == [] and len(seen) == 1 and "GET /healthz" in seen[0]


def test_an_access_log_that_also_hands_lines_to_its_parents_goes_through_logging() -> None:
    seen: list[str] = []
    parent = logging.getLogger("gunicorn")

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    keep = Keep()
    parent.addHandler(keep)

    def propagate(logger: Any) -> None:
        logger.access_log.propagate = True

    try:
        lines = logged_lines(log_format=SERVICES_FORMAT, path="/healthz", set_up=propagate)
    finally:
        parent.removeHandler(keep)
        logging.getLogger("gunicorn.access").propagate = False
    assert len(lines) == 1 and len(seen) == 1 and "GET /healthz" in seen[0]


def test_an_access_log_raised_above_info_writes_nothing() -> None:
    lines = logged_lines(log_format=SERVICES_FORMAT, path="/api/orders/12",
                            set_up=lambda logger: logger.access_log.setLevel(logging.WARNING))  # fmt: skip
    assert lines == []
