"""Scenario mode, headless, against the three services running for real: a fault switched on for the middle
third of a short run, and the invariants checked after it; the run's exit status is theirs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from musicstore.common import flags
from musicstore.common.flags import ALL_OFF
from tests.traffic.shop import RUN_LIMIT, Shop, summary_of

pytestmark = pytest.mark.slow
RUN = ["--headless", "-u", "4", "-r", "4", "--think-min", "0.1", "--think-max", "0.5", "--stop-timeout", "30"]
CHECKS = {
    "the fault took effect",
    "every journey verified (carts kept, orders as answered)",
    "no order lost or made twice",
    "no stock stranded",
    "recovery after the fault",
}


def flag_file(shop: Shop) -> Path:
    """The flag file the shop's services read (their DATA_DIR's)."""
    return shop.root / "var" / "flags.json"


def run_scenario(shop: Shop, name: str, run_time: str = "24s", **env: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    """Run a scenario headless; its exit status and summary."""
    summary = shop.root / f"{name}.json"
    environment = shop.traffic_env(**{"FLAGS_FILE": str(flag_file(shop)), **env})
    process = shop.traffic(*RUN, "--run-time", run_time, "--scenario", name, "--summary", str(summary),
                           log_name=f"{name}.log", env=environment)  # fmt: skip
    try:
        code = process.wait(RUN_LIMIT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        raise
    return code, summary_of(summary)


def checks_of(body: dict) -> dict[str, bool]:  # type: ignore[type-arg]
    return {check["name"].split(" (")[0] if "took effect" in check["name"] else check["name"]: check["held"]
            for check in body["scenario"]["checks"]}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "flag"),
    [("orders-down", "ordersUnavailable"), ("slow-store", "storeApiLatencyMs"), ("payment-failures", "paymentFailure")],
)
def test_a_scenario_switches_its_fault_on_for_the_middle_third_and_every_invariant_holds_through_it(
    shop: Shop, name: str, flag: str
) -> None:
    before = shop.order_count()
    code, body = run_scenario(shop, name)
    report = body["scenario"]
    assert code == 0, shop.log(f"{name}.log")[-5000:]
    assert report["held"] and report["flag"] == flag and checks_of(body) == dict.fromkeys(CHECKS, True), report
    assert 5 <= report["fault_on_seconds"] <= 12
    totals = body["journeys_total"]
    assert totals["verified_fault"] >= 1 and totals["failed"] == 0, totals
    assert shop.order_count() - before >= body["orders_made"] >= 1
    assert flags.read_values(flag_file(shop)) == ALL_OFF  # the fault is off again after the run
    assert "held: no stock stranded" in shop.log(f"{name}.log")


def test_a_scenario_whose_fault_never_reaches_the_services_exits_non_zero_saying_which_check_broke(
    shop: Shop, tmp_path: Path
) -> None:
    code, body = run_scenario(shop, "orders-down", "12s", FLAGS_FILE=str(tmp_path / "elsewhere.json"))
    assert code == 1
    assert checks_of(body)["the fault took effect"] is False and body["scenario"]["held"] is False
    assert "BROKEN: the fault took effect" in shop.log("orders-down.log")
