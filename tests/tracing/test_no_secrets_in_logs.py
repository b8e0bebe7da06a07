"""No card number, CVV, password or token in any log line of a whole run: a purchase through the JSON API and one
through the checkout page, a declined card, an invalid card, a wrong admin password (form and HTTP Basic), the
admin's own API calls, service-token calls (right and wrong) and an order's tracking page, against the three
services as `musicstore serve` runs them, logging at DEBUG; then every line of their output is searched."""

from __future__ import annotations

import base64
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from bs4 import BeautifulSoup

from musicstore.common.embedded_pg import EmbeddedPostgres
from tests.support.waiting import eventually
from tests.tracing.stack import ADMIN_PASSWORD, SERVICE_TOKEN, ServedStack, served_stack

GOOD = {"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvv": "917"}
DECLINED = {"card_number": "4000-0000-0000-0002", "expiry": "11/38", "cvv": "8264"}
INVALID = {"card_number": "5555 5555 5555 44", "expiry": "01/20", "cvv": "3141"}  # too short, expired
WRONG_PASSWORD = "not-the-admin-pw-77c1"
WRONG_TOKEN = "not-the-service-token-0d9e"


def basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()}


def csrf_token(page: requests.Response) -> str:
    field = BeautifulSoup(page.text, "html.parser").select_one('input[name="csrf_token"]')
    assert field is not None, page.text[:500]
    return str(field["value"])


def pay_json(stack: ServedStack, album_id: int, card: dict[str, str]) -> requests.Response:
    shopper = requests.Session()
    assert shopper.post(f"{stack.cart.url}/add_to_cart", json={"album_id": album_id}, timeout=10).status_code == 200
    body = {"name": "Log Shopper", "email": "logs@example.com", **card, "idempotency_key": str(uuid.uuid4())}
    answers = [shopper.post(f"{stack.cart.url}/process_payment", json=body, timeout=30)]

    def settled() -> None:
        # On a loaded machine the order service may answer late: "being confirmed" (202), as the contract says;
        # the same key is then sent again until the checkout is settled (a resubmit is logged too).
        if answers[-1].status_code == 202:
            answers.append(shopper.post(f"{stack.cart.url}/process_payment", json=body, timeout=30))
        assert answers[-1].status_code != 202

    eventually(settled, timeout=60, interval=2)
    return answers[-1]


def pay_on_the_page(stack: ServedStack, album_id: int, card: dict[str, str]) -> requests.Response:
    """Add from the shop, open the checkout page and submit its form as a browser would."""
    shopper = requests.Session()
    shopper.post(f"{stack.cart.url}/add_to_cart", data={"album_id": album_id},
                 headers={"Origin": stack.store.url}, timeout=10)  # fmt: skip
    page = shopper.get(f"{stack.cart.url}/checkout", timeout=10)
    form = BeautifulSoup(page.text, "html.parser").select_one("form#payment-form")
    assert form is not None, page.text[:500]
    fields = {str(i["name"]): str(i.get("value", "")) for i in form.select("input[name]")}
    fields.update({"name": "Page Shopper", "email": "page@example.com", **card})
    return shopper.post(f"{stack.cart.url}/process_payment", data=fields, timeout=30)


def admin_attempts(stack: ServedStack) -> None:
    """A wrong password on the log-in form and over HTTP Basic; the right one over HTTP Basic."""
    admin = requests.Session()
    page = admin.get(f"{stack.store.url}/login", timeout=10)
    wrong = {"csrf_token": csrf_token(page), "username": "admin", "password": WRONG_PASSWORD}
    assert admin.post(f"{stack.store.url}/login", data=wrong, timeout=10).status_code == 401
    assert requests.get(f"{stack.orders.url}/api/orders", headers=basic(WRONG_PASSWORD), timeout=10).status_code == 401
    assert requests.get(f"{stack.orders.url}/api/orders", headers=basic(ADMIN_PASSWORD), timeout=10).status_code == 200


def service_token_calls(stack: ServedStack, email: str) -> list[dict[str, Any]]:
    """The order service read with the service token (and refused with a wrong one)."""
    bearer = {"Authorization": f"Bearer {WRONG_TOKEN}"}
    assert requests.get(f"{stack.orders.url}/api/orders", headers=bearer, timeout=10).status_code == 401
    found = requests.get(f"{stack.orders.url}/api/orders", params={"customer_email": email},
                         headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=10)  # fmt: skip
    assert found.status_code == 200, found.text
    items: list[dict[str, Any]] = found.json()["items"]
    return items


def secrets_patterns(tracking_tokens: list[str]) -> dict[str, re.Pattern[str]]:
    """What must appear in no log line, each by a name that says what it is."""
    patterns = {}
    for card in (GOOD, DECLINED, INVALID):
        digits = re.sub(r"\D", "", card["card_number"])
        # The number with or without its spaces or dashes.
        patterns[f"card {digits}"] = re.compile(r"[ -]?".join(digits))
        patterns[f"cvv {card['cvv']}"] = re.compile(rf"cvv\W{{0,6}}{card['cvv']}", re.IGNORECASE)
    for name, secret in [("admin password", ADMIN_PASSWORD), ("wrong password", WRONG_PASSWORD),
                         ("service token", SERVICE_TOKEN), ("wrong token", WRONG_TOKEN)]:  # fmt: skip
        patterns[name] = re.compile(re.escape(secret))
    for token in tracking_tokens:
        patterns[f"tracking token {token[:4]}..."] = re.compile(re.escape(token))
    return patterns


@pytest.mark.slow
def test_no_log_line_of_a_whole_run_holds_a_card_number_cvv_password_or_token(
    pg_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    with served_stack(tmp_path, pg_server, "tracing_logs", LOG_LEVEL="DEBUG") as stack:
        album = requests.post(f"{stack.store.url}/api/albums", headers=basic(ADMIN_PASSWORD), timeout=10, json={
            "title": f"Logged {uuid.uuid4().hex[:8]}", "artist": "The Lines", "genre": "Test", "year": 2024,
            "price": "9.00", "stock": 10,
        }).json()  # fmt: skip
        assert pay_json(stack, album["id"], GOOD).status_code == 201
        assert pay_json(stack, album["id"], DECLINED).status_code == 402
        assert pay_json(stack, album["id"], INVALID).status_code == 422
        assert pay_on_the_page(stack, album["id"], GOOD).status_code == 200
        admin_attempts(stack)
        orders = service_token_calls(stack, "logs@example.com") + service_token_calls(stack, "page@example.com")
        assert len(orders) == 2
        for order in orders:
            assert requests.get(order["tracking_url"], timeout=10).status_code == 200
        tokens = [order["tracking_url"].rsplit("/", 1)[1] for order in orders]

    lines = [(path.name, line) for path in stack.logs for line in path.read_text().splitlines()]
    # Captured: each service's access log, and the JSON lines of the services that log (at DEBUG too).
    assert {name for name, line in lines if " rid=" in line} == {"store.log", "orders.log", "cart.log"}
    assert {name for name, line in lines if '"request_id"' in line} >= {"orders.log", "cart.log"}
    assert any('"level": "DEBUG"' in line for _, line in lines)
    found = [(what, name, line[:300]) for what, pattern in secrets_patterns(tokens).items()
             for name, line in lines if pattern.search(line)]  # fmt: skip
    assert found == []


def test_the_search_finds_each_secret_as_a_log_line_would_hold_it_and_not_what_may_be_logged() -> None:
    patterns = secrets_patterns(["trk-3c9d1e"])
    leaks = ['{"card_number": "4242 4242 4242 4242"}', "card=4242424242424242", "4000-0000-0000-0002",
             "{'cvv': '917'}", "cvv=8264", '"CVV":"3141"', f"Authorization: Bearer {SERVICE_TOKEN}",
             f"password={WRONG_PASSWORD}", ADMIN_PASSWORD, "GET /track/trk-3c9d1e"]  # fmt: skip
    for line in leaks:
        assert any(pattern.search(line) for pattern in patterns.values()), line
    allowed = ["order MS-000001 created: total 9.00, card visa ending 4242", '"cvv": "<redacted>"', "rid=917abc"]
    for line in allowed:
        assert not any(pattern.search(line) for pattern in patterns.values()), line
