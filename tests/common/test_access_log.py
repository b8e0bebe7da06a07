"""The access log never writes an order's tracking token."""

from __future__ import annotations

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
