"""The order service's WSGI entry point for gunicorn."""

from musicstore.common import background
from musicstore.common.logs import configure_logging
from musicstore.orders import create_app
from musicstore.orders.return_worker import worker_of
from musicstore.orders.settings import OrderSettings

settings = OrderSettings()
settings.require_secrets()
configure_logging("orders", settings.LOG_FORMAT, settings.LOG_LEVEL)
app = create_app(settings)
# Cancelled orders' stock goes back to the store from one serving process (a worker, after its fork), and from any
# process that records a cancellation (its worker starts at once: StockReturnWorker.wake).
background.in_one_process("stock returns", worker_of(app).start)
