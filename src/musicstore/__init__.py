"""Music Store: a reference microservices shop."""

__version__ = "0.1.0"
