"""`musicstore traffic` as a user starts it: refusals with a clear message, before any load is sent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Each case starts the traffic generator's command in a process of its own: multi-process, outside make test-fast.
pytestmark = pytest.mark.slow


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


def targets_and_secrets(data_dir: Path) -> dict[str, str]:
    """A production environment with every setting the generator needs (nothing listens at these URLs)."""
    urls = {f"{p}_SERVICE_URL": "http://127.0.0.1:9" for p in ("STORE", "CART", "ORDER")}
    return {**bare_environment(data_dir), **urls, "SERVICE_TOKEN": "t", "ADMIN_PASSWORD": "p"}


def test_a_negative_journey_budget_and_a_headless_run_of_no_users_are_refused(tmp_path: Path) -> None:
    env = targets_and_secrets(tmp_path)
    negative = traffic("--headless", "--journeys", "-1", env=env)
    assert negative.returncode == 2 and "--journeys takes a number of journeys, or 0 for no limit" in negative.stderr
    nobody = traffic("--headless", "--users", "0", "--journeys", "5", env=env)
    assert nobody.returncode == 2 and "a headless run needs --users 1 or more" in nobody.stderr


def test_a_setting_that_cannot_be_read_is_named_in_one_line(tmp_path: Path) -> None:
    done = traffic("--headless", env={**targets_and_secrets(tmp_path), "TRAFFIC_THINK_MIN": "soon"})
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "musicstore traffic: TRAFFIC_THINK_MIN: Input should be a valid number, unable to parse string as a number"
    )


def test_help_lists_our_options_before_locusts(tmp_path: Path) -> None:
    done = traffic("--help", env=bare_environment(tmp_path))
    assert done.returncode == 0
    ours, _, locusts = done.stdout.partition("Locust's own options")
    for option in ("--journeys", "--summary", "--weights", "--think-min", "--max-browsers", "--store-url"):
        assert option in ours
    assert "--stop-timeout 60" in ours and "A type not named keeps its default weight" in ours
    assert "--headless" in locusts and "--master-host" in locusts
