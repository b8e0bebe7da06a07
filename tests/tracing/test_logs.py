"""JSON log lines carry the service, the level, the request id and the trace id ("-" outside a trace)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from musicstore.common.logs import init_request_ids, log_handler
from musicstore.common.tracing import init_tracing

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


@pytest.fixture()
def lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of its own writing the store's JSON lines into a buffer (the root logger is left alone)."""
    out = io.StringIO()
    logger = logging.getLogger("tests.tracing.json")
    logger.handlers[:] = [log_handler("store", "json", stream=out)]
    logger.propagate, logger.level = False, logging.DEBUG
    yield logger, out
    logger.handlers.clear()


def records(out: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_line_outside_any_request_or_trace_names_the_service_and_level_with_dashes_for_the_ids(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = lines
    logger.warning("stock is low")
    (line,) = records(out)
    assert line["message"] == "stock is low"
    assert (line["service"], line["level"], line["request_id"], line["trace_id"]) == ("store", "WARNING", "-", "-")


def test_a_line_written_inside_a_span_carries_its_trace_id_in_hex(lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = lines
    span = NonRecordingSpan(SpanContext(int(TRACE_ID, 16), 0xB7AD6B7169203331, False, TraceFlags(1)))
    with trace.use_span(span):
        logger.info("reserved")
    assert records(out)[0]["trace_id"] == TRACE_ID


def test_a_line_written_while_serving_a_request_carries_its_request_id_and_the_callers_trace_id(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = lines
    app = Flask("logs-test")
    init_request_ids(app)
    init_tracing(app, "store")

    @app.get("/ping")
    def ping() -> str:
        logger.info("pong")
        return "pong"

    headers = {"X-Request-ID": "req-42", "traceparent": TRACEPARENT}
    assert app.test_client().get("/ping", headers=headers).status_code == 200
    line = records(out)[0]
    assert (line["service"], line["request_id"], line["trace_id"]) == ("store", "req-42", TRACE_ID)


def test_a_request_without_an_id_gets_a_new_one_of_32_hex_digits_each_time() -> None:
    app = Flask("ids-test")
    init_request_ids(app)
    app.get("/ping")(lambda: "pong")
    client = app.test_client()
    ids = [client.get("/ping").headers["X-Request-ID"] for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(len(made) == 32 and int(made, 16) >= 0 for made in ids)


def test_a_forked_worker_makes_other_request_ids_than_its_parent() -> None:
    import os

    from musicstore.common.logs import new_request_id

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first ids, then out
        os.write(write_end, " ".join(new_request_id() for _ in range(3)).encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end) as child:
        child_ids = set(child.read().split())
    assert len(child_ids) == 3 and not child_ids & {new_request_id() for _ in range(3)}
