"""The switches in a service: evaluated through OpenFeature's flagd provider from the flag file, cheaply."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from musicstore.common import faults, flags
from musicstore.common.flags import ALL_OFF
from tests.support.waiting import eventually


def test_without_a_flag_file_every_flag_is_off(tmp_path: Path) -> None:
    switches = faults.FaultSwitches(tmp_path / "absent.json")
    assert {name: switches.value(name) for name in ALL_OFF} == ALL_OFF
    assert faults.FaultSwitches(None).value("ordersUnavailable") is False


@pytest.mark.slow  # waits for the flag file's polling (a second or two): a fault test
def test_a_flag_switched_in_the_file_takes_effect_within_five_seconds_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    flags.ensure_file(path)
    switches = faults.FaultSwitches(path)
    assert switches.value("paymentFailure") == 0
    started = time.monotonic()
    flags.set_value(path, "paymentFailure", 0.3)
    flags.set_value(path, "ordersUnavailable", True)

    def switched() -> None:
        assert switches.value("paymentFailure") == 0.3 and switches.value("ordersUnavailable") is True

    eventually(switched, timeout=5)
    flags.set_value(path, "paymentFailure", 0)
    eventually(lambda: _equal(switches.value("paymentFailure"), 0), timeout=5)
    assert time.monotonic() - started < 10


def test_a_flag_file_that_appears_later_is_found_without_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(faults, "LOOK_EVERY", 0.2)
    path = tmp_path / "flags.json"
    switches = faults.FaultSwitches(path)
    assert switches.value("storeApiLatencyMs") == 0
    flags.set_value(path, "storeApiLatencyMs", 200)
    eventually(lambda: _equal(switches.value("storeApiLatencyMs"), 200), timeout=5)


@pytest.mark.slow  # waits for the flag file's polling (a second or two): a fault test
def test_a_flag_file_that_is_not_json_yet_leaves_every_flag_off_until_it_is(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text("{half a fi")
    switches = faults.FaultSwitches(path)
    assert switches.value("cartNotReady") is False
    flags.set_value(path, "cartNotReady", True)  # set_value starts from an all-off file when it cannot read one
    eventually(lambda: _equal(switches.value("cartNotReady"), True), timeout=5)


def test_an_evaluation_on_a_request_costs_at_most_a_few_microseconds(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    flags.set_value(path, "storeApiFailure", 0.1)
    switches = faults.FaultSwitches(path)
    eventually(lambda: _equal(switches.value("storeApiFailure"), 0.1), timeout=5)
    rounds, best = 20_000, float("inf")
    for _ in range(5):  # the best of five: a busy machine can only make a round slower
        started = time.perf_counter()
        for _ in range(rounds):
            switches.value("storeApiFailure")
        best = min(best, (time.perf_counter() - started) / rounds)
    assert best < 3e-6, f"{best * 1e6:.2f} µs per evaluation"


def _equal(found: object, expected: object) -> None:
    assert found == expected and isinstance(found, bool) == isinstance(expected, bool)
