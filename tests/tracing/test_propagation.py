"""Trace context and baggage go on to downstream calls always; with no OTLP endpoint nothing else happens.

Each case runs the real cart app in a fresh interpreter (tests/tracing/probe.py): tracing is set up once per
process from the environment, as in a gunicorn worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.tracing.probe import TRACE_ID

pytestmark = pytest.mark.slow  # each case runs the cart in a fresh interpreter: multi-process, outside make test-fast

ROOT = Path(__file__).resolve().parents[2]


def probe(tmp_path: Path, **env: str) -> dict[str, Any]:
    """Run the probe with this environment (OTEL_* variables of the test run left out unless given)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-m", "tests.tracing.probe", str(tmp_path)],
        cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200, answer
    return answer


def trace_ids(answer: dict[str, Any]) -> set[str]:
    """The trace ids of the traceparents the fake store received."""
    parts = [headers.get("traceparent", "").split("-") for headers in answer["store_saw"]]
    return {fields[1] if len(fields) == 4 else "none" for fields in parts}


def test_with_no_endpoint_the_callers_trace_id_and_baggage_reach_the_store(tmp_path: Path) -> None:
    answer = probe(tmp_path)
    assert answer["store_saw"], "the cart did not call the store"
    assert trace_ids(answer) == {TRACE_ID}
    assert all("synthetic_request=true" in headers.get("baggage", "") for headers in answer["store_saw"])


def test_with_no_endpoint_there_is_no_sdk_no_exporter_and_no_extra_thread(tmp_path: Path) -> None:
    answer = probe(tmp_path)
    assert answer["threads_after"] == answer["threads_before"]
    assert not answer["sdk_loaded"]
    assert answer["provider"] == "ProxyTracerProvider"  # the API's own: every span is a no-op


def test_with_an_endpoint_the_sdk_exports_from_a_thread_and_the_trace_id_still_reaches_the_store(
    tmp_path: Path,
) -> None:
    # Nothing listens on port 9 of loopback: what is exported is lost, which this test does not look at.
    answer = probe(tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_EXPORTER_OTLP_TIMEOUT="1")
    assert trace_ids(answer) == {TRACE_ID}
    assert answer["sdk_loaded"] and answer["provider"] == "TracerProvider"
    assert set(answer["threads_after"]) - set(answer["threads_before"]), "the span processor's thread"
    # The request's span starts before any other hook (an answer a hook gives, a 429 or a fault, is in it).
    assert answer["first_hook"] == "opentelemetry.instrumentation.flask"
