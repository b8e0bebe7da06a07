"""The service map's settings: how often it scrapes, over what window it reads rates, and where."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from musicstore.traffic.settings import TrafficSettings, parse_map_targets

SERVICE_URLS = {
    "store": "http://store:5000",
    "cart": "http://cart:5002",
    "orders": "http://orders:5001",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test chooses its own settings."""
    for name in ("TRAFFIC_MAP_INTERVAL", "TRAFFIC_MAP_WINDOW", "TRAFFIC_MAP_TARGETS", "TRAFFIC_MAP_EVERY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)


def test_by_default_the_map_reads_the_services_it_sends_traffic_to_every_five_seconds() -> None:
    settings = TrafficSettings()
    assert settings.TRAFFIC_MAP_INTERVAL == 5 and settings.TRAFFIC_MAP_WINDOW == 15
    assert settings.map_targets(SERVICE_URLS) == SERVICE_URLS
    assert settings.TRAFFIC_MAP_EVERY_ADDRESS is False


def test_targets_named_for_the_map_replace_those_of_the_services_they_name() -> None:
    settings = TrafficSettings(TRAFFIC_MAP_TARGETS="store=http://store-pods:5000, cart=http://cart-pods:5002/")
    assert settings.map_targets(SERVICE_URLS) == {
        "store": "http://store-pods:5000",
        "cart": "http://cart-pods:5002",
        "orders": "http://orders:5001",
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("db=http://postgres:5432", "not a map target: 'db=http://postgres:5432'"),
        ("store=store-pods:5000", "not a map target"),
        ("store", "not a map target"),
    ],
)
def test_a_target_that_cannot_be_read_is_refused_with_the_form_to_use(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_map_targets(text)
    with pytest.raises(ValidationError, match="store=URL"):
        TrafficSettings(TRAFFIC_MAP_TARGETS=text)


def test_the_window_is_at_least_one_scrape_interval() -> None:
    with pytest.raises(ValidationError, match="TRAFFIC_MAP_WINDOW"):
        TrafficSettings(TRAFFIC_MAP_INTERVAL=10, TRAFFIC_MAP_WINDOW=5)
