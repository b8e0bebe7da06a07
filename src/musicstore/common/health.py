"""/healthz and /readyz for every service."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, current_app, jsonify

from musicstore.common.db import get_database

DownstreamCheck = Callable[[], bool]


def health_blueprint(downstreams: dict[str, DownstreamCheck] | None = None) -> Blueprint:
    """A blueprint answering liveness and readiness; downstreams are reported, not required."""
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz() -> Response:
        """The process is alive."""
        return jsonify({"status": "ok", "service": current_app.config["SERVICE_NAME"]})

    @bp.get("/readyz")
    def readyz() -> tuple[Response, int]:
        """Ready when the service's own database answers."""
        database_ok = get_database(current_app).ping()
        report = {name: ("up" if check() else "down") for name, check in (downstreams or {}).items()}
        body = {
            "status": "ready" if database_ok else "unavailable",
            "database": "up" if database_ok else "down",
            "downstreams": report,
        }
        return jsonify(body), 200 if database_ok else 503

    return bp
