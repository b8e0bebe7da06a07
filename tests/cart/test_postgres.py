"""The cart on PostgreSQL (CART_DATABASE_URL), as when it runs with several replicas."""

from __future__ import annotations

import uuid
from pathlib import Path

from musicstore.cart import prepare
from musicstore.common.db import get_database
from musicstore.common.embedded_pg import EmbeddedPostgres
from tests.cart.conftest import VALID_CARD, cart_settings, make_app, quantities
from tests.cart.fakes import FakeOrders, FakeStore
from tests.conftest import new_database


def test_the_migrations_and_a_whole_checkout_work_on_postgresql(
    pg_server: EmbeddedPostgres, data_dir: Path, store: FakeStore, orders: FakeOrders
) -> None:
    url = new_database(pg_server, "cart_test")
    settings = cart_settings(data_dir, CART_DATABASE_URL=url)
    app = make_app(settings, store, orders)
    prepare(settings)  # migrating again changes nothing
    client = app.test_client()
    client.post("/add_to_cart", json={"album_id": 1, "quantity": 2}).close()
    client.post("/add_to_cart", json={"album_id": 1, "quantity": 1}).close()
    assert quantities(client) == {1: 3}
    key = str(uuid.uuid4())
    first = client.post("/process_payment", json={**VALID_CARD, "idempotency_key": key})
    again = client.post("/process_payment", json={**VALID_CARD, "idempotency_key": key})
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.get_json()["total"] == "38.97" and again.get_json() == first.get_json()
    assert quantities(client) == {} and store.stock(1) == 2 and len(orders.orders) == 1
    assert not (data_dir / "cart.db").exists()
    get_database(app).dispose()
