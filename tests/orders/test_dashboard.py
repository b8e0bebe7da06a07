"""The dashboard and the tracking page, parsed as HTML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient

from musicstore.common.db import get_database
from musicstore.orders import reports
from tests.orders.conftest import ADMIN, insert_order, line, login, order_body, post_order, soup, stored_order

NOW = datetime.now(UTC)


@pytest.mark.parametrize("path", ["/", "/orders/1", "/?status=pending"])
def test_dashboard_pages_send_anonymous_visitors_to_the_login_form(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.location.startswith("/login")


def test_a_status_change_needs_the_admin_session(app: Flask, client: FlaskClient) -> None:
    order_id = insert_order(app)
    response = client.post(f"/orders/{order_id}/status", data={"status": "confirmed"})
    assert response.status_code in (302, 400)
    assert stored_order(app, order_id).status == "pending"  # type: ignore[union-attr]


def test_the_cards_count_orders_by_status_and_revenue_leaves_out_cancelled(app: Flask, client: FlaskClient) -> None:
    insert_order(app, items=[line(unit_price="10.00", quantity=2)])
    insert_order(app, status="shipped", items=[line(unit_price="30.00")])
    insert_order(app, status="cancelled", items=[line(unit_price="500.00")])
    insert_order(app, status="delivered", created_at=NOW - timedelta(days=3), items=[line(unit_price="5.00")])
    login(client)
    page = soup(client.get("/"))
    assert page.select_one("h1").text == "Orders dashboard"
    counts = {s: page.select_one(f"#stat-{s}").text.strip() for s in ("pending", "shipped", "cancelled", "delivered")}
    assert counts == {"pending": "1", "shipped": "1", "cancelled": "1", "delivered": "1"}
    assert page.select_one("#stat-confirmed").text.strip() == "0"
    assert page.select_one("#stat-revenue").text == "$55.00"
    assert page.select_one("#stat-revenue-today").text == "$50.00"
    assert page.select_one("#stat-average").text == "$18.33"


def test_the_revenue_chart_has_one_bar_per_day_for_fourteen_days(app: Flask, client: FlaskClient) -> None:
    insert_order(app, items=[line(unit_price="20.00")])
    insert_order(app, created_at=NOW - timedelta(days=2), items=[line(unit_price="7.50", quantity=2)])
    insert_order(app, created_at=NOW - timedelta(days=30), items=[line(unit_price="99.00")])
    insert_order(app, status="cancelled", items=[line(unit_price="1000.00")])
    login(client)
    chart = soup(client.get("/")).select_one("svg#revenue-chart")
    days = {g["data-day"]: g["data-amount"] for g in chart.select("g.day")}
    assert len(days) == 14 and len(chart.select("rect")) == 14
    assert days[NOW.date().isoformat()] == "20.00"
    assert days[(NOW - timedelta(days=2)).date().isoformat()] == "15.00"
    assert sum(Decimal(a) for a in days.values()) == Decimal("35.00")
    assert not soup(client.get("/")).select("script")


def test_amounts_are_shown_exactly_with_thousands_grouped(app: Flask, client: FlaskClient) -> None:
    order_id = insert_order(app, items=[line(unit_price="9999.99", quantity=3), line(2, unit_price="0.29")])
    login(client)
    page = soup(client.get("/"))
    assert page.select_one("#stat-revenue").text == "$30,000.26"
    today = page.select_one(f"svg#revenue-chart g[data-day='{NOW.date().isoformat()}']")
    assert today["data-amount"] == "30000.26" and today.select_one("title").text.endswith("$30,000.26")
    assert today.select_one("text.amount").text == "$30,000"  # the bar's label: whole dollars, marked as money
    assert page.select(f"#orders tr[data-order-id='{order_id}'] td.num")[-1].text == "$30,000.26"
    detail = soup(client.get(f"/orders/{order_id}"))
    assert [td.text for td in detail.select("#order-lines tbody tr td.num")] == [
        "$9,999.99",
        "3",
        "$29,999.97",
        "$0.29",
        "1",
        "$0.29",
    ]


def test_top_albums_rank_by_copies_and_leave_out_cancelled(app: Flask, client: FlaskClient) -> None:
    insert_order(app, items=[line(1, title="Blue Train", quantity=2), line(2, title="Giant Steps", quantity=1)])
    insert_order(app, items=[line(2, title="Giant Steps", quantity=4)])
    insert_order(app, status="cancelled", items=[line(3, title="Cancelled Album", quantity=50)])
    login(client)
    rows = soup(client.get("/")).select("#top-albums tbody tr")
    titles = [row.select_one("strong").text for row in rows]
    assert titles == ["Giant Steps", "Blue Train"]
    assert [td.text for td in rows[0].select("td.num")] == ["5", "$64.95"]
    with app.app_context():
        assert reports.top_albums(get_database(app).session, limit=1)[0].copies == 5


def test_the_orders_table_filters_by_status_email_and_dates(app: Flask, client: FlaskClient) -> None:
    old = insert_order(app, customer_email="old@example.com", created_at=NOW - timedelta(days=10))
    ada = insert_order(app, customer_email="ada@example.com")
    bob = insert_order(app, status="confirmed", customer_email="bob@example.org")
    login(client)

    def shown(query: str) -> list[int]:
        rows = soup(client.get(f"/?{query}")).select("#orders tbody tr[data-order-id]")
        return [int(tr["data-order-id"]) for tr in rows]

    assert shown("") == [bob, ada, old]
    assert shown("status=confirmed") == [bob]
    assert shown("email=EXAMPLE.COM") == [ada, old]
    day = (NOW - timedelta(days=10)).date().isoformat()
    assert shown(f"date_from={day}&date_to={day}") == [old]
    assert shown(f"date_from={(NOW - timedelta(days=1)).date().isoformat()}") == [bob, ada]


def test_an_invalid_filter_is_shown_and_ignored(app: Flask, client: FlaskClient) -> None:
    insert_order(app)
    login(client)
    page = soup(client.get("/?status=lost&date_from=yesterday&page=zero"))
    assert len(page.select("#orders tbody tr[data-order-id]")) == 1
    assert len(page.select(".field-error")) == 2


def test_a_date_range_ending_before_it_starts_is_pointed_out(app: Flask, client: FlaskClient) -> None:
    insert_order(app)
    login(client)
    page = soup(client.get("/?date_from=2026-03-10&date_to=2026-03-01"))
    assert "To: is before From (ignored)" in page.select_one(".field-error").text
    assert "1 order in all" in page.text


def test_the_orders_table_pages_newest_first_and_keeps_the_filter(app: Flask, client: FlaskClient) -> None:
    ids = [insert_order(app) for _ in range(25)]
    login(client)
    first = soup(client.get("/?status=pending"))
    assert [int(tr["data-order-id"]) for tr in first.select("#orders tbody tr")][:2] == [ids[-1], ids[-2]]
    next_link = first.select_one("a[rel=next]")["href"]
    assert "status=pending" in next_link and "page=2" in next_link
    second = soup(client.get(next_link))
    assert [int(tr["data-order-id"]) for tr in second.select("#orders tbody tr")] == list(reversed(ids[:5]))


@pytest.mark.parametrize(
    ("status", "buttons"),
    [
        ("pending", ["confirmed", "cancelled"]),
        ("confirmed", ["shipped", "cancelled"]),
        ("shipped", ["delivered"]),
        ("delivered", []),
        ("cancelled", []),
    ],
)
def test_the_detail_page_offers_only_the_allowed_status_changes(
    app: Flask, client: FlaskClient, status: str, buttons: list[str]
) -> None:
    order_id = insert_order(app, status=status, items=[line(1, unit_price="12.99", quantity=2), line(2)])
    login(client)
    page = soup(client.get(f"/orders/{order_id}"))
    assert page.select_one("h1").text == f"Order MS-{order_id:06d}"
    assert [b["data-status"] for b in page.select("#status-actions button")] == buttons
    for form in page.select("#status-actions form"):
        assert form.select_one("input[name=csrf_token]")["value"]
    assert len(page.select("#order-lines tbody tr")) == 2
    assert page.select_one("#order-total").text == "$38.97"
    assert (page.select_one("#status-final") is None) == bool(buttons)


def _status_form(client: FlaskClient, order_id: int, target: str) -> dict[str, str]:
    page = soup(client.get(f"/orders/{order_id}"))
    token = page.select_one("input[name=csrf_token]")["value"]
    return {"csrf_token": str(token), "status": target}


def test_the_admin_moves_an_order_on_with_the_detail_page_buttons(app: Flask, client: FlaskClient) -> None:
    order_id = insert_order(app)
    login(client)
    for target in ("confirmed", "shipped"):
        response = client.post(f"/orders/{order_id}/status", data=_status_form(client, order_id, target))
        assert response.status_code == 302
    page = soup(client.get(f"/orders/{order_id}"))
    assert page.select_one("#order-status").text.strip() == "shipped"
    assert "is now shipped" in page.select_one(".flash").text


def test_a_forbidden_change_from_the_page_is_a_409_and_changes_nothing(app: Flask, client: FlaskClient) -> None:
    order_id = insert_order(app, status="delivered")
    login(client)
    response = client.post(f"/orders/{order_id}/status", data=_status_form(client, order_id, "cancelled"))
    assert response.status_code == 409
    assert "cannot become cancelled" in soup(response).select_one(".flash-error").text
    assert stored_order(app, order_id).status == "delivered"  # type: ignore[union-attr]


def test_a_status_change_without_the_csrf_token_is_refused(app: Flask, client: FlaskClient) -> None:
    order_id = insert_order(app)
    login(client)
    response = client.post(f"/orders/{order_id}/status", data={"status": "confirmed"})
    assert response.status_code == 400
    assert stored_order(app, order_id).status == "pending"  # type: ignore[union-attr]


def test_an_unknown_order_page_is_a_404(client: FlaskClient) -> None:
    login(client)
    assert client.get("/orders/4242").status_code == 404


def test_the_tracking_page_shows_one_order_without_login_or_private_data(app: Flask, client: FlaskClient) -> None:
    mine = post_order(client, order_body(customer_email="ada@example.com", items=[line(unit_price="8.00")])).get_json()
    other = post_order(client, order_body(customer_name="Bob Other", customer_email="bob@example.com")).get_json()
    client.put(f"/api/orders/{mine['id']}/status", json={"status": "confirmed"}, headers=ADMIN)
    response = client.get(mine["tracking_url"].removeprefix("http://orders.test"))
    assert response.status_code == 200
    assert response.headers["Referrer-Policy"] == "no-referrer" and response.headers["Cache-Control"] == "no-store"
    page = soup(response)
    assert page.select_one("h1").text == f"Order {mine['order_number']}"
    assert page.select_one("#order-status").text.strip() == "confirmed"
    assert [li.text for li in page.select("#progress li.done")] == ["pending"]
    assert page.select_one("#progress li.current").text == "confirmed"
    assert page.select_one("#order-total").text == "$8.00"
    text = page.get_text()
    assert "ada@example.com" not in text and other["order_number"] not in text and "Bob Other" not in text


def test_a_cancelled_order_says_so_on_its_tracking_page(client: FlaskClient) -> None:
    order = post_order(client).get_json()
    client.put(f"/api/orders/{order['id']}/status", json={"status": "cancelled"}, headers=ADMIN)
    page = soup(client.get(order["tracking_url"].removeprefix("http://orders.test")))
    assert page.select_one("#cancelled-notice") and not page.select("#progress")


@pytest.mark.parametrize("token", ["nope", "x" * 32, "A" * 500])
def test_an_unknown_tracking_token_is_a_404(client: FlaskClient, token: str) -> None:
    post_order(client)
    response = client.get(f"/track/{token}")
    assert response.status_code == 404
    assert "MS-" not in response.get_data(as_text=True)


def test_every_dashboard_form_that_changes_something_carries_a_csrf_token(app: Flask, client: FlaskClient) -> None:
    order_id = insert_order(app)
    login(client)
    for path in ("/", f"/orders/{order_id}"):
        forms = soup(client.get(path)).select("form[method=post]")
        assert forms, f"no form that changes something on {path}"  # the log-out form at least
        for form in forms:
            assert form.select_one("input[name=csrf_token]"), form
