"""The order API through the test client, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from musicstore.common.db import get_database
from tests.orders.conftest import (
    ADMIN,
    PUBLIC_URL,
    SERVICE,
    basic,
    count_orders,
    line,
    new_key,
    order_body,
    post_order,
    stored_order,
)
from tests.support.sql import statements_run

ORDER_FIELDS = {
    "id",
    "order_number",
    "customer_name",
    "customer_email",
    "items",
    "total",
    "status",
    "card_brand",
    "card_last4",
    "created_at",
    "updated_at",
    "tracking_url",
}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_creating_an_order_answers_201_with_the_order_in_the_contract_shape(client: FlaskClient) -> None:
    body = order_body(items=[line(1, unit_price="12.99", quantity=3), line(2, title="Blue", unit_price="9.50")])
    response = post_order(client, body)
    assert response.status_code == 201
    order = response.get_json()
    assert set(order) == ORDER_FIELDS
    assert order["total"] == "48.47"
    assert order["status"] == "pending"
    assert order["order_number"] == f"MS-{order['id']:06d}"
    assert order["items"][0] == {
        "album_id": 1,
        "title": "Kind of Blue",
        "artist": "Miles Davis",
        "unit_price": "12.99",
        "quantity": 3,
        "line_total": "38.97",
    }
    assert ISO_UTC.match(order["created_at"]) and ISO_UTC.match(order["updated_at"])
    assert order["tracking_url"].startswith(f"{PUBLIC_URL}/track/")


def test_a_total_sent_by_the_client_is_replaced_by_the_recomputed_one(app: Flask, client: FlaskClient) -> None:
    order = post_order(client, order_body(items=[line(unit_price="10.00", quantity=2)], total="0.01")).get_json()
    assert order["total"] == "20.00"
    assert str(stored_order(app, order["id"]).total) == "20.00"  # type: ignore[union-attr]


def test_the_same_key_again_answers_200_with_the_same_order(app: Flask, client: FlaskClient) -> None:
    key = new_key()
    first = post_order(client, key=key)
    again = post_order(client, key=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    assert count_orders(app) == 1


def test_the_same_key_with_a_different_body_is_refused_with_422(app: Flask, client: FlaskClient) -> None:
    key = new_key()
    post_order(client, key=key)
    response = post_order(client, order_body(items=[line(quantity=5)]), key=key)
    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["error"]
    assert count_orders(app) == 1


def test_order_numbers_are_unique_and_follow_the_database_id(client: FlaskClient) -> None:
    numbers = [post_order(client).get_json()["order_number"] for _ in range(3)]
    assert numbers == ["MS-000001", "MS-000002", "MS-000003"]


def test_only_the_card_brand_and_last_four_digits_are_answered_and_stored(app: Flask, client: FlaskClient) -> None:
    order = post_order(client, order_body(card_brand="Amex", card_last4="0005")).get_json()
    assert (order["card_brand"], order["card_last4"]) == ("Amex", "0005")
    stored = stored_order(app, order["id"])
    assert stored is not None and (stored.card_brand, stored.card_last4) == ("Amex", "0005")


def test_a_body_with_a_full_card_number_is_refused_and_nothing_is_stored(app: Flask, client: FlaskClient) -> None:
    response = post_order(client, order_body(card_number="4242 4242 4242 4242"))
    assert response.status_code == 422
    assert "4242 4242" not in response.get_data(as_text=True)
    assert count_orders(app) == 0


def test_orders_are_listed_newest_first_with_paging(client: FlaskClient) -> None:
    ids = [post_order(client).get_json()["id"] for _ in range(5)]
    page = client.get("/api/orders?per_page=2&page=2", headers=SERVICE).get_json()
    assert (page["total"], page["page"], page["per_page"]) == (5, 2, 2)
    assert [o["id"] for o in page["items"]] == [ids[2], ids[1]]
    assert client.get("/api/orders?per_page=500", headers=SERVICE).get_json()["per_page"] == 100


def test_orders_are_filtered_by_status_and_customer_email(client: FlaskClient) -> None:
    ada = post_order(client).get_json()
    bob = post_order(client, order_body(customer_email="bob@example.com")).get_json()
    client.put(f"/api/orders/{bob['id']}/status", json={"status": "confirmed"}, headers=ADMIN)
    confirmed = client.get("/api/orders?status=confirmed", headers=SERVICE).get_json()
    assert [o["id"] for o in confirmed["items"]] == [bob["id"]]
    by_email = client.get("/api/orders?customer_email=ADA@example.com", headers=SERVICE).get_json()
    assert [o["id"] for o in by_email["items"]] == [ada["id"]]


@pytest.mark.parametrize("query", ["status=lost", "page=0", "per_page=abc"])
def test_bad_list_parameters_are_a_400(client: FlaskClient, query: str) -> None:
    response = client.get(f"/api/orders?{query}", headers=SERVICE)
    assert response.status_code == 400 and "error" in response.get_json()


def test_one_order_is_read_by_id(client: FlaskClient) -> None:
    order = post_order(client).get_json()
    assert client.get(f"/api/orders/{order['id']}", headers=SERVICE).get_json() == order


@pytest.mark.parametrize(
    "path",
    ["/api/orders/999", "/api/orders/0", "/api/orders/-1", "/api/orders/99999999999999999999", "/api/orders/abc"],
)
def test_unknown_orders_are_a_json_404(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers=SERVICE)
    assert response.status_code == 404 and "error" in response.get_json()


def test_an_order_moves_from_pending_to_delivered_step_by_step(client: FlaskClient) -> None:
    order = post_order(client).get_json()
    for status in ("confirmed", "shipped", "delivered"):
        response = client.put(f"/api/orders/{order['id']}/status", json={"status": status}, headers=ADMIN)
        assert response.status_code == 200 and response.get_json()["status"] == status
    final = client.get(f"/api/orders/{order['id']}", headers=SERVICE).get_json()
    assert final["status"] == "delivered"
    assert datetime.fromisoformat(final["updated_at"]) >= datetime.fromisoformat(final["created_at"])  # not as text


@pytest.mark.parametrize(
    ("path", "target"),
    [
        (["confirmed", "shipped"], "cancelled"),
        ([], "shipped"),
        ([], "delivered"),
        (["cancelled"], "confirmed"),
        (["confirmed", "shipped", "delivered"], "pending"),
    ],
)
def test_a_transition_the_rules_forbid_is_a_409_and_changes_nothing(
    client: FlaskClient, path: list[str], target: str
) -> None:
    order_id = post_order(client).get_json()["id"]
    for status in path:
        client.put(f"/api/orders/{order_id}/status", json={"status": status}, headers=ADMIN)
    response = client.put(f"/api/orders/{order_id}/status", json={"status": target}, headers=ADMIN)
    assert response.status_code == 409
    before = path[-1] if path else "pending"
    assert response.get_json()["current_status"] == before
    assert client.get(f"/api/orders/{order_id}", headers=SERVICE).get_json()["status"] == before


def test_asking_for_the_status_an_order_already_has_is_a_harmless_repeat(client: FlaskClient) -> None:
    order_id = post_order(client).get_json()["id"]
    url = f"/api/orders/{order_id}/status"
    first = client.put(url, json={"status": "confirmed"}, headers=ADMIN).get_json()
    again = client.put(url, json={"status": "confirmed"}, headers=ADMIN)
    assert again.status_code == 200 and again.get_json()["updated_at"] == first["updated_at"]


@pytest.mark.parametrize("body", [{"status": "lost"}, {"status": ""}, {"status": 3}, {}, {"status": "shipped", "x": 1}])
def test_an_unknown_status_is_a_422(client: FlaskClient, body: dict[str, object]) -> None:
    order_id = post_order(client).get_json()["id"]
    response = client.put(f"/api/orders/{order_id}/status", json=body, headers=ADMIN)
    assert response.status_code == 422 and "error" in response.get_json()


def test_changing_the_status_of_an_unknown_order_is_a_404(client: FlaskClient) -> None:
    assert client.put("/api/orders/4040/status", json={"status": "confirmed"}, headers=ADMIN).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/orders"),
        ("GET", "/api/orders"),
        ("GET", "/api/orders/1"),
        ("PUT", "/api/orders/1/status"),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        basic(password="wrong"),
        basic(user="root"),
        {"Authorization": "Bearer "},
    ],
    ids=["anonymous", "wrong-token", "wrong-password", "wrong-user", "empty-token"],
)
def test_every_order_api_call_needs_the_service_token_or_the_admin(
    app: Flask, client: FlaskClient, method: str, path: str, headers: dict[str, str]
) -> None:
    response = client.open(path, method=method, json=order_body(), headers={**headers, "Idempotency-Key": new_key()})
    assert response.status_code == 401 and "error" in response.get_json()
    assert count_orders(app) == 0


def test_the_admin_may_call_the_api_by_hand_with_http_basic(client: FlaskClient) -> None:
    created = post_order(client, headers=ADMIN)
    assert created.status_code == 201
    assert client.get("/api/orders", headers=ADMIN).get_json()["total"] == 1


def test_the_orders_created_counter_counts_new_orders_not_replays(client: FlaskClient) -> None:
    key = new_key()
    post_order(client, key=key)
    post_order(client, key=key)
    post_order(client)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert re.search(r"^orders_created_total 2\.0$", metrics, re.M)


def test_health_and_readiness_report_the_database(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok", "service": "orders"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["database"] == "up"


def test_times_are_utc_and_close_to_now(client: FlaskClient) -> None:
    created = post_order(client).get_json()["created_at"]
    moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
    assert moment.tzinfo is not None and abs(datetime.now(UTC) - moment) < timedelta(minutes=1)


def test_an_orders_status_changes_take_the_admins_credentials_and_the_service_token_gets_403(
    client: FlaskClient,
) -> None:
    order_id = post_order(client).get_json()["id"]
    url = f"/api/orders/{order_id}/status"
    refused = client.put(url, json={"status": "confirmed"}, headers=SERVICE)
    assert refused.status_code == 403 and "admin" in refused.get_json()["error"]
    assert client.put(url, json={"status": "confirmed"}).status_code == 401
    assert client.get(f"/api/orders/{order_id}", headers=SERVICE).get_json()["status"] == "pending"
    assert client.put(url, json={"status": "confirmed"}, headers=ADMIN).status_code == 200


def test_a_new_order_is_written_in_two_statements_and_its_key_looked_up_only_when_known(
    app: Flask, client: FlaskClient
) -> None:
    """The order and its lines; a repeat of the key finds its order after the insert fails on the key (#16)."""
    with statements_run(get_database(app).engine) as statements:
        key = new_key()
        first = post_order(client, order_body(items=[line(1), line(2)]), key=key)
        made = list(statements)
        statements.clear()
        again = post_order(client, order_body(items=[line(1), line(2)]), key=key)
    assert (first.status_code, again.status_code) == (201, 200) and again.get_json() == first.get_json()
    assert made == ["INSERT", "INSERT"]
    assert statements[0] == "INSERT" and "SELECT" in statements
