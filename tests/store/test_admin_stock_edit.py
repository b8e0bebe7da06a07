"""An admin edit changes stock relative to what it is now: reserved copies are never resurrected."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup, Tag
from flask import Flask
from flask.testing import FlaskClient

from tests.store.conftest import ADMIN_PASSWORD, SERVICE, album_stock, create_album


def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 302
    return client


def edit_form(client: FlaskClient, album_id: int) -> dict[str, str]:
    """The album's edit form as the admin page shows it: every field's value."""
    page = BeautifulSoup(client.get("/admin").get_data(as_text=True), "html.parser")
    form = page.select_one(f"form[action='/admin/albums/{album_id}']")
    assert isinstance(form, Tag), "no edit form for the album"
    return {str(i["name"]): str(i.get("value", "")) for i in form.select("input[name]")}


def save(client: FlaskClient, album_id: int, form: dict[str, str], **changes: str) -> Any:
    return client.post(f"/admin/albums/{album_id}", data={**form, **changes})


def stock_call(client: FlaskClient, action: str, reservation_id: str, *items: tuple[int, int]) -> None:
    body: dict[str, Any] = {"reservation_id": reservation_id}
    if items:
        body["items"] = [{"album_id": a, "quantity": q} for a, q in items]
    assert client.post(f"/api/stock/{action}", headers=SERVICE, json=body).status_code == 200


def price(client: FlaskClient, album_id: int) -> str:
    return str(client.get(f"/api/album/{album_id}").get_json()["price"])


def test_the_edit_form_carries_the_stock_it_showed(app: Flask) -> None:
    album_id = create_album(app, stock=25)
    form = edit_form(admin(app), album_id)
    assert form["stock"] == form["shown_stock"] == "25"


def test_changing_only_the_price_leaves_reserved_stock_reserved(app: Flask) -> None:
    album_id = create_album(app, price="10.00", stock=25)
    client = admin(app)
    form = edit_form(client, album_id)  # shows 25
    stock_call(client, "reserve", "checkout-1", (album_id, 5))  # a checkout meanwhile: 20 left
    assert save(client, album_id, form, price="8.00").status_code == 302
    assert (price(client, album_id), album_stock(app, album_id)) == ("8.00", 20)
    stock_call(client, "release", "checkout-1")
    assert album_stock(app, album_id) == 25


def test_a_stock_change_is_applied_to_the_stock_as_it_is_now(app: Flask) -> None:
    album_id = create_album(app, stock=20)
    client = admin(app)
    form = edit_form(client, album_id)
    stock_call(client, "reserve", "checkout-1", (album_id, 5))  # while the admin looks at the page
    assert save(client, album_id, form, stock="30").status_code == 302
    assert album_stock(app, album_id) == 25
    page = BeautifulSoup(client.get("/admin").get_data(as_text=True), "html.parser")
    assert "stock 25" in page.select_one(".flash-success").text  # type: ignore[union-attr]


def test_a_change_that_would_take_the_stock_below_zero_is_refused_and_nothing_is_saved(app: Flask) -> None:
    album_id = create_album(app, price="10.00", stock=10)
    client = admin(app)
    form = edit_form(client, album_id)
    stock_call(client, "reserve", "checkout-1", (album_id, 8))
    response = save(client, album_id, form, price="1.00", stock="0")
    assert response.status_code == 409
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    message = page.select_one(".flash-error")
    assert message is not None and "was not changed" in message.text and "below zero" in message.text
    assert (price(client, album_id), album_stock(app, album_id)) == ("10.00", 2)


def test_an_edit_without_the_shown_stock_is_refused_and_nothing_is_saved(app: Flask) -> None:
    album_id = create_album(app, price="10.00", stock=10)
    client = admin(app)
    response = client.post(f"/admin/albums/{album_id}", data={"price": "1.00", "stock": "40"})
    assert response.status_code == 422
    assert (price(client, album_id), album_stock(app, album_id)) == ("10.00", 10)
