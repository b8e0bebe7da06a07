"""The cart prices its lines with one batch lookup, exactly as one lookup per line priced them (#16)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import ADMIN, Shopper, Stack

ONE_ALBUM = "/api/album/<int(signed=True):album_id>"
ALBUMS = "/api/albums"


def store_requests(stack: Stack, endpoint: str) -> float:
    """How many requests the store has served on an endpoint, by its own /metrics."""
    text = requests.get(f"{stack.store.url}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_requests_total" and sample.labels["endpoint"] == endpoint
    )


def priced_line_by_line(stack: Stack, quantities: dict[int, int]) -> dict[str, Any]:
    """The cart as pricing each line with GET /api/album/{id} gave it: albums the store does not sell left out."""
    items = []
    for album_id, quantity in quantities.items():
        response = requests.get(f"{stack.store.url}/api/album/{album_id}", timeout=5)
        if response.status_code == 404:
            continue
        assert response.status_code == 200, response.text
        album = response.json()
        line_total = Decimal(album["price"]) * quantity
        items.append(
            {
                "album_id": album_id,
                "title": album["title"],
                "artist": album["artist"],
                "unit_price": album["price"],
                "quantity": quantity,
                "line_total": f"{line_total:.2f}",
            }
        )
    total = sum((Decimal(item["line_total"]) for item in items), Decimal("0"))
    return {"items": items, "total": f"{total:.2f}", "count": sum(item["quantity"] for item in items)}


def as_priced(cart: dict[str, Any]) -> dict[str, Any]:
    """The fields of GET /api/cart that pricing decides."""
    fields = ("album_id", "title", "artist", "unit_price", "quantity", "line_total")
    return {
        "items": [{name: item[name] for name in fields} for item in cart["items"]],
        "total": cart["total"],
        "count": cart["count"],
    }


def test_one_batch_lookup_prices_a_cart_exactly_as_one_lookup_per_line_did(stack: Stack, shopper: Shopper) -> None:
    for _ in range(21):  # more than a default page ahead of the cart's albums: a store ignoring ids shows it
        stack.add_album(price="1.00", stock=1, title=f"AAA filler {uuid.uuid4().hex[:10]}")
    three_copies = stack.add_album(price="12.99", stock=10, title=f"ZZZ three {uuid.uuid4().hex[:10]}")
    cents = stack.add_album(price="7.05", stock=10, title=f"ZZZ cents {uuid.uuid4().hex[:10]}")
    round_price = stack.add_album(price="20.00", stock=10, title=f"ZZZ round {uuid.uuid4().hex[:10]}")
    withdrawn = stack.add_album(price="9.99", stock=10, title=f"ZZZ withdrawn {uuid.uuid4().hex[:10]}")
    quantities = {three_copies["id"]: 3, cents["id"]: 1, round_price["id"]: 2, withdrawn["id"]: 1}
    for album_id, quantity in quantities.items():
        assert shopper.add(album_id, quantity).status_code in (200, 201)
    deleted = requests.delete(f"{stack.store.url}/api/album/{withdrawn['id']}", headers=ADMIN, timeout=10)
    assert deleted.status_code == 204
    expected = priced_line_by_line(stack, quantities)

    batches, singles = store_requests(stack, ALBUMS), store_requests(stack, ONE_ALBUM)
    priced = shopper.cart()
    assert (store_requests(stack, ALBUMS) - batches, store_requests(stack, ONE_ALBUM) - singles) == (1, 0)

    assert as_priced(priced) == expected
    assert [item["album_id"] for item in priced["items"]] == [three_copies["id"], cents["id"], round_price["id"]]
    assert priced["total"] == "86.02"  # 3 x 12.99 + 7.05 + 2 x 20.00, the withdrawn album left out


def test_the_cart_page_asks_the_store_once_for_its_prices(stack: Stack, shopper: Shopper) -> None:
    albums = [stack.add_album(price=price, stock=10) for price in ("11.11", "3.50", "42.00")]
    for album in albums:
        assert shopper.add(album["id"], 2).status_code in (200, 201)

    batches, singles = store_requests(stack, ALBUMS), store_requests(stack, ONE_ALBUM)
    page = shopper.http.get(f"{stack.cart.url}/cart", timeout=10)
    assert page.status_code == 200
    assert (store_requests(stack, ALBUMS) - batches, store_requests(stack, ONE_ALBUM) - singles) == (1, 0)
    assert "113.22" in page.text  # 2 x (11.11 + 3.50 + 42.00)
