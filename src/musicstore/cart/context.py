"""What the cart's views share: the settings, the two clients, the request's fields, the priced cart."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request

from musicstore.cart.checkout import Checkout
from musicstore.cart.clients import Album, OrdersClient, StoreClient
from musicstore.cart.items import cart_lines, remove_line
from musicstore.cart.payment import InjectedFaults
from musicstore.cart.pricing import PricedCart, albums_of, price_lines
from musicstore.cart.reconcile import Reconciler
from musicstore.cart.settings import CartSettings
from musicstore.common import deadline, faults
from musicstore.common.bodies import json_object
from musicstore.common.bulkhead import bulkhead
from musicstore.common.db import get_database
from musicstore.common.errors import ApiError
from musicstore.common.http import DownstreamError
from musicstore.common.metrics import Metrics

STORE_DOWN = "We can't reach the store right now. Your cart is safe; please try again in a moment."


@dataclass
class Clients:
    """The cart's clients of its two downstream services."""

    store: StoreClient
    orders: OrdersClient

    @classmethod
    def from_settings(cls, settings: CartSettings, metrics: Metrics | None = None) -> Clients:
        """Clients pointed at the service URLs, with the service token, timeout and retry bound, naming the cart
        as their caller and counting their calls on its metrics."""
        timeout, token, retries = settings.HTTP_TIMEOUT, settings.SERVICE_TOKEN, settings.HTTP_RETRIES
        return cls(
            store=StoreClient(
                settings.STORE_SERVICE_URL,
                timeout=timeout,
                token=token,
                retries=retries,
                caller="cart",
                metrics=metrics,
            ),
            orders=OrdersClient(
                settings.ORDER_SERVICE_URL,
                timeout=timeout,
                token=token,
                retries=retries,
                caller="cart",
                metrics=metrics,
            ),
        )


@contextmanager
def store_calls() -> Iterator[None]:
    """Around a page's store calls: a slot of the store bulkhead, and one deadline for all of them."""
    with bulkhead("store").slot(), deadline.within(cart_settings().PAGE_TIMEOUT):
        yield


def get_clients(app: Flask | None = None) -> Clients:
    """The clients bound to the app (tests replace them with fakes)."""
    clients: Clients = (app or current_app).extensions["cart_clients"]
    return clients


def checkout_service(on_decline: Callable[[], None] = lambda: None) -> Checkout:
    """The checkout, with the running app's database, downstream clients and time limits."""
    settings = cart_settings()
    return Checkout(
        reconciler=reconciler(current_app),
        latency_ms=settings.PAYMENT_LATENCY_MS,
        timeout=settings.CHECKOUT_TIMEOUT,
        on_decline=on_decline,
        faults=payment_faults(),
    )


def payment_faults() -> InjectedFaults:
    """The payment faults switched on now: their latency counts in the checkout's deadline."""
    latency, share = faults.value("paymentLatencyMs"), faults.value("paymentFailure")
    return InjectedFaults(int(latency), float(share), faults.injected) if latency or share else InjectedFaults()


def reconciler(app: Flask) -> Reconciler:
    """What settles checkouts whose order is not known yet, with the app's database and clients."""
    settings: CartSettings = app.config["SETTINGS"]
    clients = get_clients(app)
    return Reconciler(
        get_database(app).sessionmaker, clients.store, clients.orders, lookup_seconds=min(2.0, settings.HTTP_TIMEOUT)
    )


def cart_settings() -> CartSettings:
    """The running app's settings."""
    settings: CartSettings = current_app.config["SETTINGS"]
    return settings


def request_fields() -> Mapping[str, Any]:
    """The request's fields: its JSON object, or its form."""
    return json_object() if request.is_json else request.form


def store_albums(ids: list[int]) -> dict[int, Album]:
    """The store's albums with these ids (ApiError 503 when it cannot answer)."""
    try:
        with store_calls():
            return albums_of(ids, get_clients().store)
    except DownstreamError:
        raise ApiError(STORE_DOWN, 503) from None


def priced_cart(
    cart_id: str | None, known: dict[int, Album] | None = None, lines: dict[int, int] | None = None
) -> PricedCart:
    """The cart priced by the store; lines of albums the store stopped selling are dropped.

    `known`: albums this request already had from the store, asked for every line: no second call then. A line
    added meanwhile by another request is not among them, and the store is asked again. `lines`: the cart's
    lines when this request knows them for certain (a cart it made), else they are read."""
    if not cart_id:
        return PricedCart([], [])
    database = get_database(current_app)
    if lines is None:
        # A connection of its own: the request's ORM session would be begun, closed and rolled back for this one
        # read. Nothing is left uncommitted in that session outside database.transaction(), so both see the same.
        with database.engine.connect() as connection:
            lines = cart_lines(connection, cart_id)
    if known is None or not set(lines) <= set(known):
        known = store_albums(list(lines)) if lines else {}
    priced = price_lines(lines, known)
    if priced.gone:
        with database.transaction() as session:
            for album_id in priced.gone:
                remove_line(session, cart_id, album_id)
    return priced
