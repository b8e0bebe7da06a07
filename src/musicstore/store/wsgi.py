"""The store's WSGI entry point for gunicorn."""

from musicstore.common.logs import configure_logging
from musicstore.store import create_app
from musicstore.store.settings import StoreSettings

settings = StoreSettings()
settings.require_secrets()
configure_logging("store", settings.LOG_FORMAT, settings.LOG_LEVEL)
app = create_app(settings)
