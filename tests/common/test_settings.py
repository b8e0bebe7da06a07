"""Settings: the seed's variable names, read from the environment in one place."""

from __future__ import annotations

import pytest

from musicstore.common.errors import ApiError
from musicstore.common.pagination import page_args
from musicstore.common.settings import ConfigurationError, PostgresSettings, ServiceSettings


def test_the_database_url_is_built_from_the_seed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "DB_HOST": "db.internal",
        "DB_PORT": "6543",
        "DB_NAME": "shop",
        "DB_USER": "u@x",
        "DB_PASSWORD": "p/w:1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert PostgresSettings().database_url() == "postgresql+psycopg://u%40x:p%2Fw%3A1@db.internal:6543/shop"


def test_database_url_wins_and_uses_the_psycopg_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_HOST", "ignored")
    monkeypatch.setenv("DATABASE_URL", "postgres://a:b@h:5432/d")
    assert PostgresSettings().database_url() == "postgresql+psycopg://a:b@h:5432/d"


def test_public_urls_default_to_the_service_urls_without_trailing_slashes() -> None:
    settings = ServiceSettings(
        CART_SERVICE_URL="http://cart:5002/", CART_PUBLIC_URL="", STORE_PUBLIC_URL="https://shop.example/"
    )
    assert settings.CART_PUBLIC_URL == "http://cart:5002"
    assert settings.STORE_PUBLIC_URL == "https://shop.example"


def test_a_missing_secret_stops_start_up_with_a_clear_message() -> None:
    settings = ServiceSettings(SECRET_KEY="s", ADMIN_PASSWORD="", SERVICE_TOKEN="")
    with pytest.raises(ConfigurationError, match="ADMIN_PASSWORD, SERVICE_TOKEN"):
        settings.require_secrets()


def test_a_bad_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PORT", "99999")
    with pytest.raises(ValueError, match="DB_PORT"):
        PostgresSettings()


@pytest.mark.parametrize(
    ("args", "expected"), [({}, (1, 20)), ({"page": "3", "per_page": "5"}, (3, 5)), ({"per_page": "1000"}, (1, 100))]
)
def test_paging_defaults_and_clamps(args: dict[str, str], expected: tuple[int, int]) -> None:
    assert page_args(args) == expected


@pytest.mark.parametrize("args", [{"page": "0"}, {"page": "x"}, {"per_page": "0"}, {"per_page": "-1"}])
def test_nonsense_paging_is_refused(args: dict[str, str]) -> None:
    with pytest.raises(ApiError):
        page_args(args)
