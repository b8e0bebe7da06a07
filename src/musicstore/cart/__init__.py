"""The cart service: carts, checkout and the simulated payment (port 5002)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from musicstore.cart import api, cart, checkout_views
from musicstore.cart.context import STORE_DOWN, Clients, get_clients, reconciler
from musicstore.cart.identity import init_identity
from musicstore.cart.openapi import cart_document
from musicstore.cart.reconcile import SweepThread
from musicstore.cart.settings import CartSettings
from musicstore.common import background
from musicstore.common.app import ServiceApp
from musicstore.common.bulkhead import Bulkhead, init_bulkheads
from musicstore.common.db import Database, private_sqlite_file
from musicstore.common.faults import init_faults, not_ready_if_on
from musicstore.common.health import health_blueprint
from musicstore.common.metrics import get_metrics
from musicstore.common.migrate import upgrade
from musicstore.common.openapi import openapi_blueprint
from musicstore.common.tracing import init_tracing
from musicstore.common.web import csrf, init_common

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_CHECKOUTS = (
    "Too many checkouts are waiting on the order service right now. "
    "Your cart has been kept; please try again in a moment."
)


def create_app(settings: CartSettings | None = None, **config: object) -> Flask:
    """Build the cart app from settings (read from the environment when not given)."""
    settings = settings or CartSettings()
    app = ServiceApp(__name__, static_url_path="/static/cart")
    # Own cookie name: on one host (localhost) every service's "session" cookie would collide.
    limiter = init_common(app, "cart", settings, extra=config)
    init_identity(app)
    if settings.uses_sqlite():
        private_sqlite_file(settings.sqlite_path)
    Database(settings.database_url()).init_app(app)
    init_faults(app, settings.flags_file)
    app.before_request(not_ready_if_on("cartNotReady"))  # /readyz
    app.extensions["cart_clients"] = Clients.from_settings(settings, get_metrics(app))
    init_bulkheads(
        app,
        # A request waits for a slot while others keep finishing (a busy downstream), never past a page's own
        # deadline, and is refused once none has finished for the bulkhead's wait (a stalled one).
        Bulkhead(
            "checkout", settings.CHECKOUT_CONCURRENCY, BUSY_CHECKOUTS, settings.BULKHEAD_WAIT, settings.PAGE_TIMEOUT
        ),
        # The store's wait is short: with the store stalled, waiting pages hold the threads /healthz needs.
        Bulkhead("store", settings.STORE_CONCURRENCY, STORE_DOWN, settings.STORE_BULKHEAD_WAIT, settings.PAGE_TIMEOUT),
    )
    app.extensions["payments_declined"] = get_metrics(app).counter(
        "payments_declined_total", "Simulated payments declined (test card numbers)"
    )
    app.register_blueprint(cart.bp)
    app.register_blueprint(checkout_views.checkout_blueprint(limiter))
    app.register_blueprint(api.bp)
    app.register_blueprint(
        health_blueprint(
            downstreams={
                "store": lambda: get_clients(app).store.ping(),
                "orders": lambda: get_clients(app).orders.ping(),
            }
        )
    )
    app.register_blueprint(openapi_blueprint(lambda: cart_document(settings)))
    csrf.exempt(api.bp)
    init_tracing(app, "cart")  # after the database: its queries are traced too
    if settings.RECONCILE_INTERVAL:
        # One process of the service settles checkouts left unknown or abandoned (idempotent: replicas may sweep
        # at once); a sweep in every worker only costs each its own copy of the pages the sweep touches.
        background.in_one_process("checkout reconciler", lambda: _start_sweeping(app, settings.RECONCILE_INTERVAL))
    return app


def _start_sweeping(app: Flask, interval: float) -> None:
    app.extensions["reconciler"] = SweepThread(lambda: reconciler(app).sweep(), interval).start()


def prepare(settings: CartSettings) -> None:
    """Bring the cart database to the newest schema (made on first start)."""
    if settings.uses_sqlite():
        private_sqlite_file(settings.sqlite_path)
    upgrade(MIGRATIONS, settings.database_url())
