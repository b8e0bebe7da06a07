"""Metric label values are bounded: no client can grow /metrics by inventing methods or paths."""

from __future__ import annotations

import random
import string

from flask import Flask
from flask.testing import FlaskClient


def _random_word(rng: random.Random, length: int = 12) -> str:
    return "".join(rng.choices(string.ascii_uppercase, k=length))


def _send_nonsense(client: FlaskClient, rng: random.Random, count: int) -> None:
    for _ in range(count):
        client.open(f"/{_random_word(rng).lower()}/{_random_word(rng)}", method=_random_word(rng))
        client.open("/api/cart", method=_random_word(rng))


def _series(client: FlaskClient) -> list[str]:
    return [line for line in client.get("/metrics").get_data(as_text=True).splitlines() if not line.startswith("#")]


def test_random_methods_and_paths_do_not_grow_the_metrics(cart_app: Flask) -> None:
    client = cart_app.test_client()
    rng = random.Random(14)
    _send_nonsense(client, rng, 150)
    _series(client)  # /metrics counts itself from its first read on
    before = _series(client)
    _send_nonsense(client, rng, 150)
    after = _series(client)
    assert len(after) == len(before)
    assert len("\n".join(after)) < 20_000


def test_unknown_methods_fold_into_other_and_known_ones_keep_their_name(cart_app: Flask) -> None:
    client = cart_app.test_client()
    client.open("/api/cart", method="BREW")
    client.get("/api/cart")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'method="other"' in text
    assert 'method="GET"' in text
    assert "BREW" not in text
