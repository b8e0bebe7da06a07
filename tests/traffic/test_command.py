"""`musicstore traffic` as a user starts it: refusals with a clear message, before any load is sent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def traffic(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "musicstore.cli", "traffic", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def bare_environment(data_dir: Path) -> dict[str, str]:
    """This environment without any of the generator's settings, in production mode."""
    prefixes = ("STORE_", "CART_", "ORDER_", "TRAFFIC_", "SERVICE_TOKEN", "ADMIN_", "MODE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**env, "MODE": "production", "DATA_DIR": str(data_dir)}


def test_outside_local_mode_it_refuses_to_start_without_targets_and_names_them(tmp_path: Path) -> None:
    done = traffic("--headless", "--users", "1", env=bare_environment(tmp_path))
    assert done.returncode == 2
    assert "missing required setting(s) STORE_SERVICE_URL, ORDER_SERVICE_URL, CART_SERVICE_URL" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_user_mix_that_cannot_be_read_is_refused_with_the_names_to_use(tmp_path: Path) -> None:
    env = {**bare_environment(tmp_path), "SERVICE_TOKEN": "t", "ADMIN_PASSWORD": "p"}
    done = traffic("--headless", "--store-url", "http://s", "--cart-url", "http://c", "--orders-url", "http://o",
                   "--weights", "robots=3", env=env)  # fmt: skip
    assert done.returncode == 2
    assert (
        "not a weight: 'robots=3' (use NAME=N with NAME one of browser, http, window, declined, admin)" in done.stderr
    )
