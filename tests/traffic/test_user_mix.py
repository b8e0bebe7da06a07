"""The default user mix: every run of four or more users has a browser shopper and an HTTP shopper."""

from __future__ import annotations

import pytest
from locust.dispatch import UsersDispatcher
from locust.runners import WorkerNode

from musicstore.traffic import locustfile
from musicstore.traffic.settings import DEFAULT_WEIGHTS


def users_for(count: int) -> dict[str, int]:
    """How many users of each type Locust starts for `count` users with the default weights."""
    classes = []
    for name, weight in DEFAULT_WEIGHTS.items():
        user_class = locustfile.USER_TYPES[name]
        user_class.weight = weight
        classes.append(user_class)
    dispatcher = UsersDispatcher(worker_nodes=[WorkerNode("one")], user_classes=classes)
    dispatcher.new_dispatch(target_user_count=count, spawn_rate=1000)
    final = list(dispatcher)[-1]
    return {name: n for name, n in final["one"].items() if n}


@pytest.mark.parametrize("count", range(4, 41))
def test_any_run_of_four_or_more_users_has_a_browser_and_an_http_shopper(count: int) -> None:
    mix = users_for(count)
    assert mix.get("BrowserShopper", 0) >= 1 and mix.get("HttpShopper", 0) >= 1, mix
    assert sum(mix.values()) == count


def test_five_users_are_one_of_each_type() -> None:
    assert users_for(5) == dict.fromkeys(
        ["Admin", "BrowserShopper", "DeclinedCardShopper", "HttpShopper", "WindowShopper"], 1
    )
