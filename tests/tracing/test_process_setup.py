"""What setting up tracing in a serving process costs it: no scan of the installed distributions."""

from __future__ import annotations

import subprocess
import sys

SETUP = """
import importlib.metadata
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from musicstore.common import tracing

def scanned(*_args, **_kwargs):
    raise AssertionError("the installed distributions were scanned")

importlib.metadata.distributions = scanned
importlib.metadata.distribution = scanned
importlib.metadata.version = scanned
RequestsInstrumentor._check_dependency_conflicts = scanned
tracing.init_process("store")
assert RequestsInstrumentor().is_instrumented_by_opentelemetry
"""


def test_a_process_instruments_its_http_calls_without_scanning_the_installed_distributions() -> None:
    done = subprocess.run([sys.executable, "-c", SETUP], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
