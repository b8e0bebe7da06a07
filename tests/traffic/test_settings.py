"""The generator's settings and start-up checks: targets, credentials and the user mix."""

from __future__ import annotations

import pytest

from musicstore.common.settings import ConfigurationError
from musicstore.traffic.command import check
from musicstore.traffic.settings import DEFAULT_WEIGHTS, TrafficSettings, parse_host_map, parse_weights

TARGETS = {
    "STORE_SERVICE_URL": "http://store:5000",
    "CART_SERVICE_URL": "http://cart:5002",
    "ORDER_SERVICE_URL": "http://orders:5001",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test chooses its own settings."""
    for name in (*TARGETS, "MODE", "SERVICE_TOKEN", "ADMIN_PASSWORD", "TRAFFIC_WEIGHTS"):
        monkeypatch.delenv(name, raising=False)


def test_weights_named_replace_the_defaults_and_the_others_keep_theirs() -> None:
    assert parse_weights("") == DEFAULT_WEIGHTS
    assert parse_weights("browser=2, admin=0") == {**DEFAULT_WEIGHTS, "browser": 2, "admin": 0}


@pytest.mark.parametrize("text", ["robot=1", "browser", "browser=-1", "browser=x", "http=3;admin=1"])
def test_a_weight_that_cannot_be_read_is_refused_with_the_names_to_use(text: str) -> None:
    with pytest.raises(ValueError, match="not a weight"):
        parse_weights(text)


def test_a_mix_with_every_weight_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one user type"):
        parse_weights("browser=0,http=0,window=0,declined=0,admin=0")


def test_local_mode_targets_this_machines_services_and_listens_on_loopback_only() -> None:
    settings = TrafficSettings(MODE="local")
    assert (settings.STORE_SERVICE_URL, settings.ORDER_SERVICE_URL, settings.CART_SERVICE_URL) == (
        "http://localhost:5000",
        "http://localhost:5001",
        "http://localhost:5002",
    )
    assert settings.CART_PUBLIC_URL == "http://localhost:5002"
    assert settings.bind_host == "127.0.0.1" and not settings.ui_needs_login


def test_elsewhere_the_ui_listens_on_every_address_and_takes_the_admins_credentials() -> None:
    settings = TrafficSettings(**TARGETS, SERVICE_TOKEN="t", ADMIN_PASSWORD="p")
    assert settings.bind_host == "0.0.0.0" and settings.ui_needs_login


def test_outside_local_mode_the_generator_refuses_to_start_without_its_targets() -> None:
    with pytest.raises(ConfigurationError, match="STORE_SERVICE_URL, ORDER_SERVICE_URL, CART_SERVICE_URL"):
        check(["--headless"], TrafficSettings(SERVICE_TOKEN="t", ADMIN_PASSWORD="p"))


def test_outside_local_mode_the_generator_refuses_to_start_without_the_service_token() -> None:
    with pytest.raises(ConfigurationError, match="SERVICE_TOKEN"):
        check([], TrafficSettings(**TARGETS, ADMIN_PASSWORD="p"))


def test_the_admin_password_is_needed_only_while_the_admin_weight_is_above_zero() -> None:
    settings = TrafficSettings(**TARGETS, SERVICE_TOKEN="t")
    with pytest.raises(ConfigurationError, match="ADMIN_PASSWORD"):
        check([], settings)
    check(["--weights", "admin=0"], settings)


def test_targets_given_on_the_command_line_count_and_must_be_http_urls() -> None:
    settings = TrafficSettings(SERVICE_TOKEN="t", ADMIN_PASSWORD="p")
    urls = ["--store-url", "http://s", "--cart-url", "http://c", "--orders-url", "http://o"]
    check(urls, settings)
    with pytest.raises(ConfigurationError, match="not a target URL: 'ftp://o'"):
        check([*urls[:-1], "ftp://o"], settings)


def test_a_worker_needs_only_its_secrets_because_its_master_sends_the_targets() -> None:
    check(["--worker"], TrafficSettings(SERVICE_TOKEN="t", ADMIN_PASSWORD="p"))
    with pytest.raises(ConfigurationError, match="SERVICE_TOKEN"):
        check(["--worker"], TrafficSettings(ADMIN_PASSWORD="p"))


def test_a_browser_host_map_names_where_each_public_host_is_reachable() -> None:
    assert parse_host_map("store.shop.localhost=store, cart.shop.localhost=cart:5002") == {
        "store.shop.localhost": "store",
        "cart.shop.localhost": "cart:5002",
    }
    with pytest.raises(ValueError, match="not a host mapping: 'store shop=store'"):
        parse_host_map("store shop=store")
