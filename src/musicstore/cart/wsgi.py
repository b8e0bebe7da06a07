"""The cart's WSGI entry point for gunicorn."""

from musicstore.cart import create_app
from musicstore.cart.settings import CartSettings
from musicstore.common.logs import configure_logging

settings = CartSettings()
settings.require_secrets()
configure_logging("cart", settings.LOG_FORMAT, settings.LOG_LEVEL)
app = create_app(settings)
