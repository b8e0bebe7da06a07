"""Traces and logs: W3C trace context and baggage between the services, spans over OTLP, JSON logs without secrets."""
