"""The store service: catalog, covers, stock, admin and statistics (port 5000)."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from musicstore.common.app import ServiceApp
from musicstore.common.db import Database
from musicstore.common.faults import api_faults, init_faults
from musicstore.common.health import health_blueprint
from musicstore.common.login import login_blueprint
from musicstore.common.metrics import get_metrics
from musicstore.common.migrate import upgrade
from musicstore.common.openapi import openapi_blueprint
from musicstore.common.tracing import init_tracing
from musicstore.common.versions import VersionedDatabase
from musicstore.common.web import csrf, init_common
from musicstore.store import admin, api, shop, stats, stock_api
from musicstore.store.cache import init_cache
from musicstore.store.openapi import store_document
from musicstore.store.seed import seed_catalog
from musicstore.store.settings import StoreSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: StoreSettings | None = None, **config: object) -> Flask:
    """Build the store app from settings (read from the environment when not given)."""
    settings = settings or StoreSettings()
    app = ServiceApp(__name__)
    limiter = init_common(app, "store", settings, extra=config)
    database = VersionedDatabase(settings.database_url())
    database.init_app(app)
    init_faults(app, settings.flags_file)
    app.before_request(api_faults("storeApiLatencyMs", "storeApiFailure"))  # every /api/* answer
    app.extensions["reservations_refused"] = get_metrics(app).counter(
        "stock_reservations_refused_total", "Stock reservations refused for lack of stock"
    )
    app.extensions["stock_returned"] = get_metrics(app).counter(
        "stock_returned_total", "Reservations whose stock went back because their order was cancelled"
    )
    init_cache(app, settings.CATALOG_CACHE_SECONDS, database)
    app.register_blueprint(shop.bp)
    app.register_blueprint(stats.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(login_blueprint(limiter, home_endpoint="admin.index"))
    app.register_blueprint(api.bp)
    app.register_blueprint(stock_api.bp)
    app.register_blueprint(health_blueprint())
    app.register_blueprint(openapi_blueprint(store_document))
    csrf.exempt(api.bp)
    csrf.exempt(stock_api.bp)
    init_tracing(app, "store")  # last: it traces the app's routes and its database
    return app


def prepare(settings: StoreSettings) -> None:
    """Wait for the database, apply migrations and seed the demo catalog once."""
    database = Database(settings.database_url())
    try:
        database.wait_until_ready()
        upgrade(MIGRATIONS, database.url)
        with database.sessionmaker() as session, session.begin():
            added = seed_catalog(session, settings.covers_dir)
        if added:
            logging.getLogger(__name__).info("seeded the demo catalog with %d albums", added)
    finally:
        database.dispose()
