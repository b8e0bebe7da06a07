"""`musicstore traffic --scenario NAME`: what a scenario needs is checked before any load is sent."""

from __future__ import annotations

import argparse

import pytest

from musicstore.common.settings import ConfigurationError
from musicstore.traffic.command import check
from musicstore.traffic.options import SCENARIO_WEIGHTS, SCENARIOS, weights_from
from musicstore.traffic.settings import TrafficSettings, parse_weights

TARGETS = [
    "--store-url",
    "http://127.0.0.1:1",
    "--cart-url",
    "http://127.0.0.1:2",
    "--orders-url",
    "http://127.0.0.1:3",
]


def settings() -> TrafficSettings:
    return TrafficSettings(MODE="production", SERVICE_TOKEN="t", ADMIN_PASSWORD="a", TRAFFIC_WEIGHTS="")


def test_the_scenarios_of_the_design_are_there_each_with_its_fault() -> None:
    assert {name: (s.flag, s.value) for name, s in SCENARIOS.items()} == {
        "orders-down": ("ordersUnavailable", True),
        "slow-store": ("storeApiLatencyMs", 400),
        "payment-failures": ("paymentFailure", 0.3),
    }


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--headless", "--run-time", "30s", "--scenario", "nope"], "no scenario 'nope'; choose from orders-down"),
        (["--run-time", "30s", "--scenario", "orders-down"], "a scenario runs headless"),
        (["--headless", "--scenario", "orders-down"], "a scenario needs --run-time"),
        (["--headless", "-t", "30s", "--master", "--scenario", "slow-store"], "a scenario runs on one process"),
        (
            ["--headless", "-t", "30s", "--scenario", "slow-store", "--weights", "browser=1"],
            "give browser=0 and admin=0",
        ),
    ],
)
def test_a_scenario_without_what_it_needs_is_refused_saying_what(argv: list[str], says: str) -> None:
    with pytest.raises((ConfigurationError, ValueError), match=says):
        check([*TARGETS, *argv], settings())


def test_a_scenario_runs_headless_for_a_set_time_with_its_own_mix_unless_one_is_named() -> None:
    check([*TARGETS, "--headless", "--run-time", "30s", "--scenario", "payment-failures"], settings())
    mix = weights_from(argparse.Namespace(scenario="orders-down", weights=""), settings())
    assert mix == parse_weights(SCENARIO_WEIGHTS) and mix["browser"] == mix["admin"] == 0
    assert weights_from(argparse.Namespace(scenario="", weights=""), settings())["browser"] == 1
