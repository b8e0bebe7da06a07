"""How much a purchase asks of the cart's database: every statement is a round trip on the checkout's path (#16)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from musicstore.common.db import get_database
from tests.cart.conftest import VALID_CARD
from tests.support.sql import statements_run


@pytest.fixture()
def statements(app: Flask) -> Iterator[list[str]]:
    """The statements the cart's engine runs, as they run."""
    with statements_run(get_database(app).engine) as seen:
        yield seen


def test_a_first_add_to_cart_makes_the_cart_and_its_line_in_two_inserts(app: Flask, statements: list[str]) -> None:
    response = app.test_client().post("/add_to_cart", json={"album_id": 1, "quantity": 2})
    assert response.status_code == 200
    assert [(item["album_id"], item["quantity"]) for item in response.get_json()["items"]] == [(1, 2)]
    assert statements == ["INSERT", "INSERT"]


def test_a_first_add_beyond_the_stock_makes_no_cart(app: Flask, statements: list[str]) -> None:
    response = app.test_client().post("/add_to_cart", json={"album_id": 2, "quantity": 3})  # 2 in stock
    assert response.status_code == 409
    assert statements == []


def test_a_payment_records_its_attempt_and_its_order_in_two_transactions_of_six_statements(
    app: Flask, statements: list[str]
) -> None:
    client = app.test_client()
    cart = {"X-Cart-Id": client.post("/add_to_cart", json={"album_id": 1}).get_json()["cart_id"]}
    statements.clear()
    paid = client.post("/process_payment", json={**VALID_CARD, "idempotency_key": str(uuid.uuid4())}, headers=cart)
    assert paid.status_code == 201
    # attempt, claim, lines; then the attempt completed, the cart freed, its ordered line deleted
    assert statements == ["INSERT", "UPDATE", "SELECT", "UPDATE", "UPDATE", "DELETE"]


@contextmanager
def _watching_the_orm() -> Iterator[list[str]]:
    """What any ORM session runs meanwhile: its statements and its flushes."""
    seen: list[str] = []

    def _statement(_state: Any) -> None:
        seen.append("statement")

    def _flush(*_args: Any) -> None:
        seen.append("flush")

    event.listen(Session, "do_orm_execute", _statement)
    event.listen(Session, "before_flush", _flush)
    try:
        yield seen
    finally:
        event.remove(Session, "do_orm_execute", _statement)
        event.remove(Session, "before_flush", _flush)


def test_a_payment_runs_prebuilt_statements_without_an_orm_session(app: Flask) -> None:
    """The ORM's work per statement (building, keying and compiling it, a unit of work to flush an object) was most
    of a payment's own time in the cart; its statements are built once and run on connections (#16)."""
    client = app.test_client()
    cart = {"X-Cart-Id": client.post("/add_to_cart", json={"album_id": 1}).get_json()["cart_id"]}
    with _watching_the_orm() as through_the_orm:
        paid = client.post("/process_payment", json={**VALID_CARD, "idempotency_key": str(uuid.uuid4())}, headers=cart)
    assert paid.status_code == 201
    assert through_the_orm == []


def test_a_first_add_to_cart_runs_prebuilt_statements_without_an_orm_session(app: Flask) -> None:
    with _watching_the_orm() as through_the_orm:
        added = app.test_client().post("/add_to_cart", json={"album_id": 1, "quantity": 2})
    assert added.status_code == 200 and added.get_json()["count"] == 2
    assert through_the_orm == []
