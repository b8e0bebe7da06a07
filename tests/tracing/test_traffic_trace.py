"""With an OTLP endpoint, the traffic generator (Locust under gevent, as it runs) traces each journey: a
`journey: http shopper` span of musicstore-traffic is the root of a trace that the services' spans join."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from musicstore.common.embedded_pg import EmbeddedPostgres
from tests.tracing.otlp import ReceivedSpan, otlp_receiver
from tests.tracing.stack import ADMIN_PASSWORD, SERVICE_TOKEN, served_stack

SERVICES = {"musicstore-traffic", "musicstore-cart", "musicstore-store", "musicstore-orders"}


def journeys_traced(count: int) -> Callable[[list[ReceivedSpan]], bool]:
    """True once `count` journeys are traces of their own with spans of the generator and the three services and
    no span's parent missing (each worker of a service exports its own spans, so a trace arrives in parts)."""

    def ready(spans: list[ReceivedSpan]) -> bool:
        roots = [s for s in spans if s.name == "journey: http shopper" and not s.parent_id]
        traces = [[s for s in spans if s.trace_id == root.trace_id] for root in roots]
        return len(roots) >= count and all(whole(trace) for trace in traces)

    return ready


def whole(trace: list[ReceivedSpan]) -> bool:
    """Spans of the generator and the three services, and every parent among them."""
    ids = {s.span_id for s in trace}
    return {s.service for s in trace} >= SERVICES and all(not s.parent_id or s.parent_id in ids for s in trace)


@pytest.mark.slow
def test_each_journey_of_the_generator_is_one_trace_that_the_services_join(
    pg_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    with otlp_receiver() as (receiver, endpoint):
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        with served_stack(tmp_path, pg_server, "tracing_traffic", **otel) as stack:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAFFIC_", "LOCUST_", "OTEL_"))}
            env |= {"MODE": "production", "STORE_SERVICE_URL": stack.store.url, "CART_SERVICE_URL": stack.cart.url,
                    "ORDER_SERVICE_URL": stack.orders.url, "SERVICE_TOKEN": SERVICE_TOKEN,
                    "ADMIN_PASSWORD": ADMIN_PASSWORD, **otel}  # fmt: skip
            with (tmp_path / "traffic.log").open("wb") as log:
                run = subprocess.run(
                    [sys.executable, "-m", "musicstore.cli", "traffic", "--headless", "-u", "1", "-r", "1",
                     "--journeys", "2", "--run-time", "120s", "--think-min", "0", "--think-max", "0.1",
                     "--weights", "browser=0,http=1,window=0,declined=0,admin=0"],
                    env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=180, check=False,
                )  # fmt: skip
            assert run.returncode == 0, (tmp_path / "traffic.log").read_text()[-3000:]
            spans = receiver.wait_until(journeys_traced(2), timeout=30)

    roots = [s for s in spans if s.name == "journey: http shopper" and not s.parent_id]
    assert len(roots) == 2 and roots[0].trace_id != roots[1].trace_id
    for root in roots:
        trace = [s for s in spans if s.trace_id == root.trace_id]
        ids = {s.span_id for s in trace}
        assert {s.service for s in trace} >= SERVICES
        assert [s for s in trace if not s.parent_id] == [root]
        assert all(s.parent_id in ids for s in trace if s.parent_id)
