"""The images really build and run: the Compose stack under podman-compose on free ports, a purchase through the
published ports, the traffic generator's headless mode inside its container (an HTTP and a browser journey), and a
fault scenario run beside it as deploy/README.md documents (`compose run --rm traffic traffic --headless --scenario
...`), switching the fault through the flags volume the services read.

Bounds: a cold machine (base image, pip and Chromium inside the builds) within COLD seconds; warm (every image
cached) within WARM seconds. Containers, volumes and networks are removed after; tagged images are kept.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

from musicstore.common import flags
from musicstore.common.embedded_pg import free_port
from tests.deploy.containers import (
    IMAGES,
    Stopwatch,
    build_images,
    direct_store_stalls,
    ensure_base,
    image_exists,
    name_lookup_stalls,
    podman_env,
    require_podman,
    run,
)

pytestmark = pytest.mark.slow
COLD, WARM = 1800, 420
COMPOSE = ["podman-compose", "-f", "deploy/compose.yaml"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """Images built (or cached), the Compose stack up on free ports; everything but the images removed after."""
    require_podman()
    clock, tmp_path = Stopwatch(), tmp_path_factory.mktemp("containers")
    env = podman_env(tmp_path)
    warm = all(image_exists(image, env) for image in IMAGES.values())
    ensure_base(env, tmp_path)
    build_images(env)
    built = clock()
    project = f"musicstore-test-{uuid.uuid4().hex[:8]}"
    ports = {name: free_port() for name in ("STORE_PORT", "ORDER_PORT", "CART_PORT", "TRAFFIC_PORT", "POSTGRES_PORT")}
    secret = {
        name: secrets.token_urlsafe(16) for name in ("SECRET_KEY", "SERVICE_TOKEN", "ADMIN_PASSWORD", "DB_PASSWORD")
    }
    images = {"POSTGRES_IMAGE": IMAGES["postgres"], "MUSICSTORE_IMAGE": IMAGES["service"],
              "TRAFFIC_IMAGE": IMAGES["traffic"]}  # fmt: skip
    env = {**env, **{k: str(v) for k, v in ports.items()}, **secret, **images, "BIND_ADDRESS": "127.0.0.1"}
    compose = [*COMPOSE[:1], "-p", project, *COMPOSE[1:]]
    try:
        run([*compose, "up", "-d", "--no-build"], env, timeout=600)
        urls = {name: f"http://127.0.0.1:{ports[var]}" for name, var in
                (("store", "STORE_PORT"), ("orders", "ORDER_PORT"), ("cart", "CART_PORT"))}  # fmt: skip
        wait_ready(urls)
        yield {"urls": urls, "env": env, "project": project, "secret": secret, "warm": warm, "built": built,
               "ready": clock(), "clock": clock}  # fmt: skip
    finally:
        run([*compose, "down", "-v"], env, timeout=300, check=False)
        for volume in ("postgres-data", "store-data"):
            run(["podman", "volume", "rm", "-f", f"{project}_{volume}"], env, timeout=60, check=False)
        run(["podman", "network", "rm", "-f", f"{project}_default"], env, timeout=60, check=False)


@retry(retry=retry_if_exception_type((requests.RequestException, AssertionError)), stop=stop_after_delay(240),
       wait=wait_fixed(1), reraise=True)  # fmt: skip
def wait_ready(urls: dict[str, str]) -> None:
    """Until every service answers /readyz through its published port."""
    for url in urls.values():
        assert requests.get(f"{url}/readyz", timeout=3).status_code == 200, url


def test_a_purchase_through_the_published_ports_makes_an_order_and_takes_the_stock(stack: dict[str, object]) -> None:
    urls, secret = stack["urls"], stack["secret"]
    assert isinstance(urls, dict) and isinstance(secret, dict)
    album = requests.get(f"{urls['store']}/api/albums", params={"per_page": 100}, timeout=10).json()["items"][0]
    cart = {"X-Cart-Id": secrets.token_urlsafe(18)}
    assert requests.post(f"{urls['cart']}/add_to_cart", json={"album_id": album["id"], "quantity": 1}, headers=cart,
                         timeout=10).status_code == 200  # fmt: skip
    paid = requests.post(f"{urls['cart']}/process_payment", headers=cart, timeout=30, json={
        "name": "Container Shopper", "email": "container@example.com", "card_number": "4242 4242 4242 4242",
        "expiry": "12/39", "cvv": "123", "idempotency_key": str(uuid.uuid4())})  # fmt: skip
    assert paid.status_code == 201, paid.text
    order = requests.get(f"{urls['orders']}/api/orders/{paid.json()['order_id']}", timeout=10,
                         headers={"Authorization": f"Bearer {secret['SERVICE_TOKEN']}"}).json()  # fmt: skip
    assert order["total"] == album["price"] and order["items"][0]["album_id"] == album["id"]
    after = requests.get(f"{urls['store']}/api/album/{album['id']}", timeout=10).json()
    assert after["stock"] == album["stock"] - 1
    cover = requests.get(
        album["cover_url"].replace("http://store.musicstore.localhost:5000", urls["store"]), timeout=10
    )
    assert cover.status_code == 200 and cover.headers["Content-Type"].startswith("image/")


def test_the_traffic_generator_verifies_an_http_and_a_browser_journey_inside_its_container(
    stack: dict[str, object],
) -> None:
    env, project = stack["env"], stack["project"]
    assert isinstance(env, dict)
    command = ["podman", "exec", f"{project}_traffic_1", "musicstore", "traffic", "--headless", "-u", "2", "-r", "2",
               "--journeys", "2", "--weights", "http=1,browser=1,window=0,declined=0,admin=0", "--think-min", "0",
               "--think-max", "0.2", "--run-time", "180s", "--summary", "/tmp/summary.json"]  # fmt: skip
    done = run(command, env, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(
        run(["podman", "exec", f"{project}_traffic_1", "cat", "/tmp/summary.json"], env, timeout=60).stdout
    )
    journeys = summary["journeys"]
    assert journeys["http shopper"]["verified"] == 1 and journeys["browser shopper"]["verified"] == 1, journeys
    assert summary["orders_made"] == 2


def test_a_scenario_run_beside_the_stack_switches_its_fault_through_the_flags_volume_and_every_check_holds(
    stack: dict[str, object],
) -> None:
    # deploy/README.md's `compose run --rm traffic traffic --headless --scenario orders-down ...`, with podman-compose
    # 1.0.3: --no-deps (its `run` would otherwise `up` the services again, building them), -T (no terminal here).
    # Its `run` ignores -v, so the summary goes where the one-off container can write and the running generator can
    # read: the flags volume both mount. It exits 0 whatever the container did, and prints the container's status
    # last ("exit code: N"): that is the status checked.
    env, project = stack["env"], stack["project"]
    assert isinstance(env, dict) and isinstance(project, str)
    summary_file = f"/flags/scenario-{uuid.uuid4().hex[:8]}.json"
    command = [*COMPOSE[:1], "-p", project, *COMPOSE[1:], "run", "--rm", "--no-deps", "-T", "traffic",
               "traffic", "--headless", "--scenario", "orders-down", "-u", "4", "-r", "4", "-t", "24s",
               "--think-min", "0.1", "--think-max", "0.5", "--stop-timeout", "30",
               "--summary", summary_file]  # fmt: skip
    started = datetime.now(UTC)
    done = run(command, env, timeout=180, check=False)
    output = done.stdout[-3000:] + done.stderr[-6000:]
    traffic = ["podman", "exec", f"{project}_traffic_1"]
    body = json.loads(run([*traffic, "cat", summary_file], env, timeout=60).stdout)
    report, totals = body["scenario"], body["journeys_total"]
    stalls = name_lookup_stalls(f"{project}_cart_1", started, env) + direct_store_stalls(done.stdout)
    if not report["held"] and stalls:
        pytest.skip(f"this host's container DNS stopped answering the services during the scenario: {stalls[:3]}")
    statuses = re.findall(r"^exit code: (-?\d+)$", done.stdout, re.MULTILINE)
    assert done.returncode == 0 and statuses and statuses[-1] == "0", output
    assert body["exit_code"] == 0 and report["held"] and report["flag"] == "ordersUnavailable", (report, output)
    assert totals["verified_fault"] >= 1 and totals["failed"] == 0 and body["orders_made"] >= 1, totals
    assert "held: no stock stranded" in done.stdout
    # The fault is off again, in the file every service reads.
    now = flags.values_of(json.loads(run([*traffic, "cat", "/flags/flags.json"], env, timeout=60).stdout))
    assert now == flags.ALL_OFF
    # No one-off container is left behind.
    left = run(["podman", "ps", "-a", "--format", "{{.Names}}"], env, timeout=60).stdout.split()
    assert not [name for name in left if name.startswith(f"{project}_traffic_tmp")], left


def test_the_stack_came_up_within_its_bound(stack: dict[str, object]) -> None:
    ready, warm = stack["ready"], stack["warm"]
    assert isinstance(ready, float)
    bound = WARM if warm else COLD
    state = "warm" if warm else "cold"
    print(f"\ncontainers ({state}): images built in {stack['built']:.0f} s, stack ready at {ready:.0f} s")
    assert ready < bound
