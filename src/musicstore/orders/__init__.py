"""The order service: orders, status, revenue, the dashboard and order tracking (port 5001)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from musicstore.common.app import ServiceApp
from musicstore.common.db import Database, private_sqlite_file
from musicstore.common.faults import init_faults
from musicstore.common.health import health_blueprint
from musicstore.common.login import login_blueprint
from musicstore.common.metrics import get_metrics
from musicstore.common.migrate import upgrade
from musicstore.common.openapi import openapi_blueprint
from musicstore.common.tracing import init_tracing
from musicstore.common.versions import VersionedDatabase
from musicstore.common.web import csrf, init_common
from musicstore.orders import api, dashboard, list_cache, return_worker, tracking
from musicstore.orders.openapi import orders_document
from musicstore.orders.settings import OrderSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: OrderSettings | None = None, **config: object) -> Flask:
    """Build the order app from settings (read from the environment when not given)."""
    settings = settings or OrderSettings()
    app = ServiceApp(__name__, static_url_path="/static/orders")
    limiter = init_common(app, "orders", settings, extra=config)
    database = VersionedDatabase(settings.database_url())
    database.init_app(app)
    list_cache.init_cache(app, database)
    init_faults(app, settings.flags_file)
    app.extensions["orders_created"] = get_metrics(app).counter("orders_created_total", "Orders created")
    return_worker.init_app(app, settings)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(tracking.bp)
    app.register_blueprint(login_blueprint(limiter, home_endpoint="dashboard.index"))
    app.register_blueprint(api.bp)
    app.register_blueprint(health_blueprint())
    app.register_blueprint(openapi_blueprint(orders_document))
    csrf.exempt(api.bp)
    init_tracing(app, "orders")  # last: it traces the app's routes and its database
    return app


def prepare(settings: OrderSettings) -> None:
    """Make the database ready: its folder (SQLite), a bounded wait for the server, then migrations."""
    if settings.uses_sqlite():
        private_sqlite_file(settings.sqlite_path)
    database = Database(settings.database_url())
    try:
        database.wait_until_ready()
    finally:
        database.dispose()
    upgrade(MIGRATIONS, settings.database_url())
