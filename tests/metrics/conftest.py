"""Fixtures of the metrics tests: a service's app from its factory, and /metrics read as samples."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from musicstore import orders
from musicstore.common.db import get_database
from tests.orders.conftest import order_settings


@pytest.fixture()
def orders_app(data_dir: Path) -> Iterator[Flask]:
    """The order service on a fresh SQLite database."""
    settings = order_settings(data_dir)
    orders.prepare(settings)
    app = orders.create_app(settings, TESTING=True)
    yield app
    get_database(app).dispose()


@pytest.fixture()
def client(orders_app: Flask) -> FlaskClient:
    """A test client of the order service."""
    return orders_app.test_client()


Labels = frozenset[tuple[str, str]]


def samples(text: str, name: str) -> dict[Labels, float]:
    """The values of one sample name (e.g. "http_requests_total") in a Prometheus exposition, by label set."""
    return {
        frozenset(sample.labels.items()): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def scrape(client: FlaskClient, name: str) -> dict[Labels, float]:
    """One sample name's values on the app's /metrics."""
    return samples(client.get("/metrics").get_data(as_text=True), name)


def value(found: dict[Labels, float], **labels: str) -> float:
    """The value of the one series with exactly these labels (0 when there is none)."""
    return found.get(frozenset(labels.items()), 0.0)
