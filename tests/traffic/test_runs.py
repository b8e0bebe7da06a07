"""The traffic generator against the three services really running: headless, distributed, and its web UI.

Every run is bounded (a number of journeys, a run time, and a limit on the process) and is checked from
outside: the order service's own count of orders, the run's summary and CSV files, the processes left.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable

import pytest
import requests

from musicstore.common.embedded_pg import free_port
from tests.support.waiting import eventually
from tests.traffic.shop import ADMIN_PASSWORD, RUN_LIMIT, Shop, browsers_left, summary_of

pytestmark = pytest.mark.slow
USER_TYPES = {"admin", "browser shopper", "declined card", "http shopper", "window shopper"}
QUICK = ["--think-min", "0.1", "--think-max", "0.4", "--run-time", "180s", "--stop-timeout", "30"]


def finish(process: subprocess.Popen[bytes]) -> int:
    """Wait (bounded) for a generator process to end by itself."""
    try:
        return process.wait(RUN_LIMIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_a_headless_run_of_every_user_type_verifies_as_many_purchases_as_the_order_service_gained(shop: Shop) -> None:
    before = shop.order_count()
    summary, csv = shop.root / "run.json", shop.root / "run"
    run = shop.traffic(
        "--headless", "-u", "6", "-r", "6", "--journeys", "18", "--browser-journeys", "1", *QUICK,
        "--csv", str(csv), "--summary", str(summary), log_name="run.log",
    )  # fmt: skip
    assert finish(run) == 0, shop.log("run.log")[-4000:]
    body = summary_of(summary)
    gained = shop.order_count() - before
    assert set(body["journeys"]) == USER_TYPES
    assert all(counts["started"] >= 1 for counts in body["journeys"].values()), body["journeys"]
    totals = body["journeys_total"]
    assert totals["failed"] == 0 and totals["started"] >= 18
    assert body["orders_made"] <= gained <= body["orders_made"] + totals["interrupted"]
    purchases = body["journeys"]["browser shopper"]["orders"] + body["journeys"]["http shopper"]["orders"]
    assert purchases == body["orders_made"] >= 1
    stats = (shop.root / "run_stats.csv").read_text()
    assert "journey: browser shopper" in stats and "browser: pay" in stats and "cart: pay" in stats
    output = shop.log("run.log")
    assert "journey" in output and "verified" in output and "orders" in output  # the short table
    browser_journeys = body["journeys"]["browser shopper"]["started"]
    assert output.count("started browser #") >= browser_journeys  # recycled after every journey
    assert browsers_left(shop) == []


def test_a_run_bounded_by_time_lets_the_journeys_under_way_finish_and_accounts_for_every_order(shop: Shop) -> None:
    before = shop.order_count()
    summary = shop.root / "timed.json"
    bounds = ["--run-time", "12s", "--stop-timeout", "60", "--think-min", "0.1", "--think-max", "0.3"]
    run = shop.traffic("--headless", "-u", "5", "-r", "5", *bounds, "--summary", str(summary), log_name="timed.log")
    assert finish(run) == 0, shop.log("timed.log")[-4000:]
    body = summary_of(summary)
    totals = body["journeys_total"]
    assert totals["interrupted"] == 0 and totals["failed"] == 0  # the stop timeout let every journey finish
    assert totals["started"] == totals["verified"] + totals["sold_out"]
    assert shop.order_count() - before == body["orders_made"] >= 1
    assert browsers_left(shop) == []


def test_the_same_run_against_a_stopped_order_service_exits_non_zero_and_names_the_failed_journeys(shop: Shop) -> None:
    orders = shop.services["orders"]
    orders.stop()
    try:
        summary = shop.root / "down.json"
        run = shop.traffic("--headless", "-u", "5", "-r", "5", "--journeys", "10", *QUICK,
                           "--summary", str(summary), log_name="down.log")  # fmt: skip
        assert finish(run) == 1, shop.log("down.log")[-4000:]
    finally:
        orders.start()
    body = summary_of(summary)
    assert body["exit_code"] == 1 and body["journeys_total"]["failed"] >= 1
    reasons = [f["reason"] for counts in body["journeys"].values() for f in counts["failures"]]
    assert any(
        re.match(r"cart: pay: expected 201 or .*, got 503 \(.*order service is not available", r) for r in reasons
    )
    assert any(
        re.match(rf"orders: verify: no answer from {shop.url('orders')}/api/orders \(ConnectionError\)", r)
        for r in reasons
    )
    assert body["journeys"]["http shopper"]["failed"] >= 1
    assert body["orders_made"] == 0
    output = shop.log("down.log")
    assert "failed http shopper" in output
    assert browsers_left(shop) == []


def test_a_master_and_two_workers_share_one_bounded_run(shop: Shop) -> None:
    before = shop.order_count()
    port, summary = free_port(), shop.root / "distributed.json"
    master = shop.traffic(
        "--headless", "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
        "--expect-workers", "2", "-u", "6", "-r", "6", "--journeys", "12", *QUICK, "--summary", str(summary),
        log_name="master.log",
    )  # fmt: skip
    # The workers know nothing of the targets or the think time: the master sends them.
    worker_env = {k: v for k, v in shop.traffic_env().items() if not k.endswith("_SERVICE_URL")}
    workers = [
        shop.traffic(
            "--worker",
            "--master-host",
            "127.0.0.1",
            "--master-port",
            str(port),
            log_name=f"worker{n}.log",
            env=worker_env,
        )
        for n in (1, 2)
    ]
    try:
        assert finish(master) == 0, shop.log("master.log")[-4000:]
        assert [finish(worker) for worker in workers] == [0, 0]
    finally:
        for process in (master, *workers):
            if process.poll() is None:
                process.kill()
    body = summary_of(summary)
    assert body["journeys_total"]["started"] == 12  # six each: the budget is shared, not given to each worker
    assert body["journeys_total"]["failed"] == 0 and set(body["journeys"]) == USER_TYPES
    assert body["orders_made"] == shop.order_count() - before >= 1
    for n in (1, 2):
        log = shop.log(f"worker{n}.log")
        assert f"run against store {shop.url('store')}" in log and "think time 0.1-0.4 s" in log and "6 journeys" in log
        assert "this worker ran 6 journeys (0 failed)" in log, log[-2000:]
    assert browsers_left(shop) == []


def test_a_headless_run_in_which_no_journey_could_run_exits_non_zero_and_says_so(shop: Shop) -> None:
    only_browsers = "browser=1,http=0,window=0,declined=0,admin=0"
    run = shop.traffic("--headless", "-u", "2", "-r", "2", "--run-time", "4s", "--weights", only_browsers,
                       "--max-browsers", "0", log_name="nothing.log")  # fmt: skip
    assert finish(run) == 1
    output = shop.log("nothing.log")
    assert "browser shoppers are off (max browsers 0)" in output and "no journey ran" in output


def own_albums(shop: Shop) -> list[int]:
    """Ids of the albums the generator's admin added (their titles start with "Traffic Session"), oldest first."""
    found = requests.get(
        f"{shop.url('store')}/api/albums", params={"q": "Traffic Session", "per_page": 100}, timeout=10
    )
    return sorted(a["id"] for a in found.json()["items"] if a["title"].startswith("Traffic Session"))


def test_the_admin_keeps_the_catalog_from_growing_by_retiring_its_oldest_albums(shop: Shop) -> None:
    for n in range(32):
        album = {"title": f"Traffic Session old {n}", "artist": "Earlier Run", "genre": "Jazz", "year": 2020,
                 "price": "9.99", "stock": 5}  # fmt: skip
        answer = requests.post(
            f"{shop.url('store')}/api/albums", json=album, auth=("admin", ADMIN_PASSWORD), timeout=10
        )
        assert answer.status_code == 201, answer.text
    before = own_albums(shop)
    run = shop.traffic("--headless", "-u", "1", "-r", "1", "--journeys", "1", *QUICK,
                       "--weights", "browser=0,http=0,window=0,declined=0,admin=1", log_name="admin.log")  # fmt: skip
    assert finish(run) == 0, shop.log("admin.log")[-3000:]
    after = own_albums(shop)
    retired = min(5, len(before) + 1 - 30)
    assert len(after) == len(before) + 1 - retired
    assert after[: len(before) - retired] == before[retired:]  # the oldest went, the newest stayed
    assert after[-1] > before[-1]  # and the one this journey added is there


def wait_for(check: Callable[[], None]) -> None:
    """Wait (bounded: two minutes) until a check passes."""
    eventually(check, timeout=120, interval=0.5)


def test_the_web_ui_answers_on_its_port_and_a_swarm_started_through_its_api_makes_orders(shop: Shop) -> None:
    port = free_port()
    ui = f"http://127.0.0.1:{port}"
    admin = ("admin", ADMIN_PASSWORD)
    process = shop.traffic("--web-host", "127.0.0.1", "--web-port", str(port), "--think-min", "0.1",
                           "--think-max", "0.4", log_name="ui.log")  # fmt: skip
    try:

        def answers() -> None:
            assert process.poll() is None, shop.log("ui.log")[-3000:]
            try:
                assert requests.get(ui, auth=admin, timeout=2).status_code == 200
            except requests.ConnectionError as exc:
                raise AssertionError(str(exc)) from None

        wait_for(answers)
        assert requests.get(ui, timeout=5).status_code == 401  # off loopback mode: the admin's credentials
        swarm = {"user_count": "4", "spawn_rate": "4"}
        foreign = requests.post(
            f"{ui}/swarm", data=swarm, auth=admin, headers={"Origin": "http://evil.example"}, timeout=5
        )
        assert foreign.status_code == 403
        retarget = requests.post(
            f"{ui}/swarm", data={**swarm, "store_url": "http://elsewhere.test"}, auth=admin, timeout=5
        )
        assert retarget.status_code == 400 and "store_url" in retarget.text
        assert (
            "Access-Control-Allow-Origin"
            not in requests.get(ui, auth=admin, headers={"Origin": "http://evil.example"}, timeout=5).headers
        )
        before = shop.order_count()
        started = requests.post(f"{ui}/swarm", data=swarm, auth=admin, timeout=10)
        assert started.status_code == 200 and started.json()["success"], started.text

        def bought_in_a_browser() -> None:
            stats = requests.get(f"{ui}/stats/requests", auth=admin, timeout=5).json()
            journeys = {s["name"]: s for s in stats["stats"] if s["method"] == "JOURNEY"}
            browser = journeys.get("journey: browser shopper", {})
            assert browser.get("num_requests", 0) - browser.get("num_failures", 0) >= 1, journeys
            assert shop.order_count() > before

        wait_for(bought_in_a_browser)
        assert requests.get(f"{ui}/stop", auth=admin, timeout=60).json()["success"]  # GET, as DESIGN.md names it

        def stopped() -> None:
            assert requests.get(f"{ui}/stats/requests", auth=admin, timeout=5).json()["state"] == "stopped"

        wait_for(stopped)
        assert browsers_left(shop) == []
    finally:
        process.terminate()
        process.wait(30)
    assert browsers_left(shop) == []
