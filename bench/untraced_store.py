"""The store with no instrumentation at all, for bench/tracing_cost.py's baseline: init_tracing does nothing, so
neither the propagation middleware nor the requests instrumentation (nor, with an endpoint, the SDK) is set up."""

import musicstore.common.tracing

musicstore.common.tracing.init_tracing = lambda app, service: None  # before the store's package takes it

from musicstore.store.wsgi import app  # noqa: E402

__all__ = ["app"]
