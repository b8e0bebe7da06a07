"""Each service's /openapi.json: public, never redirected, a valid OpenAPI 3.1 document listing DESIGN.md's API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from flask import Flask
from schemathesis.specs.openapi.definitions import OPENAPI_31

import musicstore.cart
import musicstore.orders
import musicstore.store
from musicstore.cart.clients import Album as PricedAlbum
from musicstore.cart.openapi import CartOut, PaymentOut, PendingOut, TotalChangedError
from musicstore.cart.outcomes import CheckoutOutcome
from musicstore.cart.pricing import PricedCart, PricedLine
from musicstore.cart.settings import CartSettings
from musicstore.orders.settings import OrderSettings
from musicstore.store.models import Album
from musicstore.store.openapi import AlbumOut
from musicstore.store.schemas import album_json
from musicstore.store.settings import StoreSettings

DESIGN = Path(__file__).resolve().parents[2].parent / "shared" / "DESIGN.md"
EVERY_SERVICE: dict[tuple[str, str], set[str]] = {
    ("GET", "/healthz"): set(),
    ("GET", "/readyz"): set(),
    ("GET", "/metrics"): set(),
}
# DESIGN.md's API contract: method and path, and the query parameters it names, per service.
CONTRACT: dict[str, dict[tuple[str, str], set[str]]] = {
    "store": {
        ("GET", "/api/album/{id}"): set(),
        ("GET", "/api/albums"): {"q", "genre", "page", "per_page", "ids"},
        ("GET", "/api/stats"): set(),
        ("POST", "/api/album/{id}/stock"): set(),
        ("POST", "/api/albums"): set(),
        ("DELETE", "/api/album/{id}"): set(),
        ("POST", "/api/stock/reserve"): set(),
        ("POST", "/api/stock/release"): set(),
        ("POST", "/api/stock/return"): set(),
        **EVERY_SERVICE,
    },
    "cart": {
        ("POST", "/add_to_cart"): set(),
        ("POST", "/update_quantity"): set(),
        ("POST", "/remove_item"): set(),
        ("GET", "/api/cart"): set(),
        ("GET", "/checkout"): set(),
        ("POST", "/process_payment"): set(),
        **EVERY_SERVICE,
    },
    "orders": {
        ("POST", "/api/orders"): set(),
        ("GET", "/api/orders"): {"status", "customer_email", "idempotency_key", "page", "per_page"},
        ("GET", "/api/orders/{id}"): set(),
        ("PUT", "/api/orders/{id}/status"): set(),
        **EVERY_SERVICE,
    },
}
SECTIONS = {"Store": "store", "Cart": "cart", "Orders": "orders"}
CALL = re.compile(r"`(GET|POST|PUT|DELETE) (/[^`?\s*]*)(\?[^`\s]*)?`")


def design_contract(text: str) -> dict[str, dict[tuple[str, str], set[str]]]:
    """The calls DESIGN.md's "API contract" names, by service (those of "Every service" go to each)."""
    contract = text.split("## API contract", 1)[1].split("\n## ", 1)[0]
    found: dict[str, dict[tuple[str, str], set[str]]] = {name: {} for name in SECTIONS.values()}
    section = None
    for line in contract.splitlines():
        if line[:1].isalpha():  # a paragraph that opens a section: "Store", "Cart (form posts...)", "Every service"
            section = line.split(" (")[0].strip()
        for method, path, query in CALL.findall(line):
            services = list(found) if section == "Every service" else [SECTIONS.get(section or "", "")]
            for service in filter(None, services):
                params = {p.split("=")[0] for p in query.lstrip("?").split("&") if p}
                found[service].setdefault((method, path), set()).update(params)
    return found


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Flask]]:
    """The three apps from their factories (no request here reaches a database)."""
    root = tmp_path_factory.mktemp("openapi")
    common: dict[str, Any] = dict(
        DATA_DIR=root,
        SECRET_KEY="test-secret",
        ADMIN_PASSWORD="test-admin",
        SERVICE_TOKEN="test-token",
        STORE_SERVICE_URL="http://localhost:5000",
        ORDER_SERVICE_URL="http://localhost:5001",
        CART_SERVICE_URL="http://localhost:5002",
    )
    yield {
        "store": musicstore.store.create_app(
            StoreSettings(**common, DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:9/none")
        ),
        "orders": musicstore.orders.create_app(OrderSettings(**common, ORDER_DB_PATH=root / "orders.db")),
        "cart": musicstore.cart.create_app(CartSettings(**common, CART_DB_PATH=root / "cart.db", RECONCILE_INTERVAL=0)),
    }


def document(app: Flask) -> dict[str, Any]:
    """GET /openapi.json as a client on 127.0.0.1 (the public URL says localhost) sees it."""
    response = app.test_client().get("/openapi.json", base_url="http://127.0.0.1:5000")
    assert response.status_code == 200, response.location
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    return body


@pytest.mark.skipif(not DESIGN.is_file(), reason="DESIGN.md is not beside the repository")
def test_the_contract_these_tests_check_is_design_mds() -> None:
    assert design_contract(DESIGN.read_text()) == CONTRACT


@pytest.mark.parametrize("service", CONTRACT)
def test_the_document_is_public_json_and_valid_openapi_3_1(apps: dict[str, Flask], service: str) -> None:
    body = document(apps[service])
    jsonschema.Draft202012Validator(OPENAPI_31).validate(body)
    assert body["openapi"] == "3.1.0"
    for schema in body["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("service", CONTRACT)
def test_the_document_lists_every_call_of_the_contract_with_its_parameters(
    apps: dict[str, Flask], service: str
) -> None:
    paths = document(apps[service])["paths"]
    for (method, path), params in CONTRACT[service].items():
        assert method.lower() in paths.get(path, {}), f"{method} {path} is missing"
        named = {p["name"] for p in paths[path][method.lower()].get("parameters", [])}
        assert params <= named, f"{method} {path} lacks {params - named}"


@pytest.mark.parametrize("service", CONTRACT)
def test_every_json_error_answer_is_an_error_object(apps: dict[str, Flask], service: str) -> None:
    body = document(apps[service])
    error_refs = {"#/components/schemas/ErrorOut"} | {
        f"#/components/schemas/{name}"
        for name, schema in body["components"]["schemas"].items()
        if "error" in schema.get("required", [])
    }
    for path, operations in body["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                content = response.get("content", {}).get("application/json")
                if int(status) >= 400 and content and path != "/readyz":  # its 503 is the readiness report
                    assert content["schema"]["$ref"] in error_refs, f"{method} {path} {status}"


@pytest.mark.parametrize("service", CONTRACT)
def test_every_example_body_is_valid_by_its_own_schema(apps: dict[str, Flask], service: str) -> None:
    body = document(apps[service])
    examples = [
        (f"{method} {path}", content)
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
        for content in operation.get("requestBody", {}).get("content", {}).values()
        if "example" in content
    ]
    assert examples
    for where, content in examples:
        schema = {**content["schema"], "components": body["components"]}
        assert not list(jsonschema.Draft202012Validator(schema).iter_errors(content["example"])), where


def test_admin_and_internal_apis_name_their_credentials(apps: dict[str, Flask]) -> None:
    security = {
        (service, method.upper(), path): [next(iter(s)) for s in op["security"]]
        for service, app in apps.items()
        for path, ops in document(app)["paths"].items()
        for method, op in ops.items()
    }
    assert security["store", "POST", "/api/albums"] == ["adminBasic"]
    assert security["store", "POST", "/api/stock/reserve"] == ["serviceToken", "adminBasic"]
    assert security["orders", "GET", "/api/orders"] == ["serviceToken", "adminBasic"]
    assert security["orders", "PUT", "/api/orders/{id}/status"] == ["adminBasic"]
    assert security["store", "GET", "/api/albums"] == security["cart", "POST", "/process_payment"] == []


def test_the_album_schema_is_what_the_api_answers() -> None:
    album = Album(id=7, title="Blue Train", artist="John Coltrane", genre="Jazz", year=1957)
    album.price, album.stock, album.cover = Decimal("12.5"), 3, "abc.png"
    AlbumOut.model_validate(album_json(album, "http://localhost:5000"))
    album.cover = None
    AlbumOut.model_validate(album_json(album, "http://localhost:5000"))


def test_the_cart_schema_is_what_the_api_answers() -> None:
    album = PricedAlbum(id=1, title="Blue Train", artist="Coltrane", price=Decimal("12.99"), stock=4, cover_url=None)
    CartOut.model_validate({**PricedCart([PricedLine(album, 2)], []).as_json(), "cart_id": None})


def test_the_payment_schemas_are_what_a_checkout_answers() -> None:
    placed = CheckoutOutcome(
        key="k", status=201, order_id=1, order_number="MS-1", total=Decimal("9.5"), tracking_url="http://o/track/t"
    )
    PaymentOut.model_validate(placed.as_json())
    PendingOut.model_validate(CheckoutOutcome(key="k", status=202).as_json())
    TotalChangedError.model_validate(
        CheckoutOutcome(key="k", status=409, error="changed", total=Decimal("3")).as_json()
    )
