"""No client can grow /metrics: whatever methods, paths, User-Agents and baggage it sends, label values come
from fixed sets, and another batch of the same kinds of nonsense adds no series."""

from __future__ import annotations

import itertools
import random
import re
import string

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

CALLERS = {"store", "cart", "orders", "traffic", "browser", "other"}


def _word(rng: random.Random, alphabet: str = string.ascii_letters + string.digits + "-_.=;,%") -> str:
    return "".join(rng.choices(alphabet, k=rng.randint(8, 24)))


def _send_nonsense(client: FlaskClient, rng: random.Random) -> None:
    """One request of each kind (method, path, User-Agent, baggage), each filled with fresh random values."""
    methods = [lambda: "GET", lambda: "POST", lambda: _word(rng, string.ascii_uppercase)]
    paths = [lambda: "/healthz", lambda: "/" + _word(rng), lambda: f"/api/orders/{rng.randint(1, 10**9)}"]
    agents = [
        lambda: "musicstore-cart",
        lambda: "musicstore-" + _word(rng),
        lambda: "Mozilla/" + _word(rng),
        lambda: _word(rng),
    ]
    baggage = [lambda: f"{_word(rng)}={_word(rng)},synthetic_request=true", lambda: f"{_word(rng)}={_word(rng)}"]
    for method, path, agent, entries in itertools.product(methods, paths, agents, baggage):
        headers = {"User-Agent": agent(), "baggage": entries()}
        client.open(path(), method=method(), headers=headers)


def _series(client: FlaskClient) -> list[dict[str, str]]:
    text = client.get("/metrics").get_data(as_text=True)
    return [sample.labels for family in text_string_to_metric_families(text) for sample in family.samples]


def test_random_methods_paths_user_agents_and_baggage_add_no_label_values_beyond_the_fixed_sets(
    orders_app: Flask, client: FlaskClient
) -> None:
    rng = random.Random(15)
    for _ in range(4):
        _send_nonsense(client, rng)
    series = _series(client)
    routes = {rule.rule for rule in orders_app.url_map.iter_rules()} | {"unmatched"}
    assert {s["method"] for s in series if "method" in s} == {"GET", "POST", "other"}
    assert {s["endpoint"] for s in series if "endpoint" in s} <= routes
    assert {s["caller"] for s in series if "caller" in s} == CALLERS - {"store", "orders", "traffic"}
    assert {s["synthetic"] for s in series if "synthetic" in s} == {"true", "false"}
    assert all(re.fullmatch(r"[1-5][0-9][0-9]", s["status"]) for s in series if "status" in s)


def test_another_batch_of_the_same_kinds_of_nonsense_adds_no_series(client: FlaskClient) -> None:
    rng = random.Random(16)
    _send_nonsense(client, rng)
    _series(client)  # /metrics counts itself from its first read on
    before = _series(client)
    for _ in range(3):
        _send_nonsense(client, rng)
    assert len(_series(client)) == len(before)
