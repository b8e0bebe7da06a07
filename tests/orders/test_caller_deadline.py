"""The order service makes no order once the caller's deadline (X-Request-Deadline) has passed."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from flask.testing import FlaskClient

from musicstore.common.db import get_database
from musicstore.orders import service
from musicstore.orders.schemas import OrderIn
from tests.orders.conftest import SERVICE, count_orders, new_key, order_body, post_order

TOO_LATE = "the caller's deadline passed; no order was made"


def deadline(seconds_from_now: float) -> dict[str, str]:
    return {**SERVICE, "X-Request-Deadline": f"{time.time() + seconds_from_now:.3f}"}


def test_an_order_asked_for_after_the_callers_deadline_is_not_made(app: Flask, client: FlaskClient) -> None:
    response = post_order(client, headers=deadline(-1))
    assert response.status_code == 503
    assert response.get_json() == {"error": TOO_LATE}
    assert count_orders(app) == 0


def test_an_order_asked_for_before_the_callers_deadline_is_made(app: Flask, client: FlaskClient) -> None:
    response = post_order(client, headers=deadline(30))
    assert response.status_code == 201
    assert count_orders(app) == 1


@pytest.mark.parametrize("value", ["", "soon", "nan", "-5"])
def test_an_unreadable_deadline_is_no_deadline(app: Flask, client: FlaskClient, value: str) -> None:
    response = post_order(client, headers={**SERVICE, "X-Request-Deadline": value})
    assert response.status_code == 201


def test_the_order_a_key_already_made_is_answered_even_after_the_deadline(app: Flask, client: FlaskClient) -> None:
    key = new_key()
    made = post_order(client, key=key)
    again = post_order(client, key=key, headers=deadline(-1))
    assert again.status_code == 200 and again.get_json() == made.get_json()


def test_a_deadline_that_passes_before_the_commit_makes_no_order(app: Flask) -> None:
    data = OrderIn.model_validate(order_body())
    checks = iter([False, True])  # still wanted on arrival; the caller gave up before the commit
    with app.app_context():
        database = get_database(app)
        with pytest.raises(service.CallerGaveUp):
            service.place_order(database, key=new_key(), data=data, caller_gave_up=lambda: next(checks))
    assert count_orders(app) == 0
