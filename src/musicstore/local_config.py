"""Configuration of `musicstore up` and `serve`: the one place the CLI reads the environment."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

SERVICES = {"store": 5000, "orders": 5001, "cart": 5002}
PORT_VARS = {"store": "STORE_PORT", "orders": "ORDER_PORT", "cart": "CART_PORT"}
URL_VARS = {"store": "STORE", "orders": "ORDER", "cart": "CART"}


@dataclass(frozen=True)
class LocalSecrets:
    """Secrets of a local stack, generated once and kept in the data directory."""

    secret_key: str
    service_token: str
    db_password: str
    admin_password: str
    admin_password_generated: bool


def data_dir() -> Path:
    """The data directory (DATA_DIR, default ./var), made if missing."""
    path = Path(os.environ.get("DATA_DIR", "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_secrets(directory: Path) -> LocalSecrets:
    """Read the stack's secrets from the data directory, generating the missing ones."""
    path = directory / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for key in ("SECRET_KEY", "SERVICE_TOKEN", "DB_PASSWORD", "ADMIN_PASSWORD"):
        stored.setdefault(key, secrets.token_urlsafe(18 if key == "ADMIN_PASSWORD" else 32))
    path.write_text(json.dumps(stored, indent=2))
    path.chmod(0o600)
    from_env = os.environ.get("ADMIN_PASSWORD", "")
    return LocalSecrets(
        secret_key=os.environ.get("SECRET_KEY") or stored["SECRET_KEY"],
        service_token=os.environ.get("SERVICE_TOKEN") or stored["SERVICE_TOKEN"],
        db_password=stored["DB_PASSWORD"],
        admin_password=from_env or stored["ADMIN_PASSWORD"],
        admin_password_generated=not from_env,
    )


def external_database() -> bool:
    """True when DATABASE_URL or DB_HOST points at a PostgreSQL server of the user's."""
    return bool(os.environ.get("DATABASE_URL") or os.environ.get("DB_HOST"))


def wanted_db_port() -> int:
    """The port the embedded PostgreSQL should listen on."""
    return int(os.environ.get("DB_PORT", "5432"))


def service_port(service: str) -> int:
    """A service's port (STORE_PORT, ORDER_PORT, CART_PORT override the defaults)."""
    return int(os.environ.get(PORT_VARS[service], SERVICES[service]))


def serve_port(service: str) -> int:
    """The port `serve` binds: PORT, else the service's own port setting."""
    return int(os.environ.get("PORT", service_port(service)))


def local_env(directory: Path, found: LocalSecrets, database_url: str | None) -> dict[str, str]:
    """The environment every process of a local stack runs with."""
    env = {
        "MODE": "local",
        "DATA_DIR": str(directory),
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text"),
        "SECRET_KEY": found.secret_key,
        "SERVICE_TOKEN": found.service_token,
        "ADMIN_PASSWORD": found.admin_password,
    }
    for service, prefix in URL_VARS.items():
        env.setdefault(
            f"{prefix}_SERVICE_URL",
            os.environ.get(f"{prefix}_SERVICE_URL", f"http://localhost:{service_port(service)}"),
        )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def gunicorn_options() -> list[str]:
    """Server options shared by `up` and `serve` (WEB_THREADS tunes the thread count)."""
    return [
        "--no-control-socket",
        "--worker-class",
        "gthread",
        "--workers",
        "1",
        "--threads",
        os.environ.get("WEB_THREADS", "8"),
        "--graceful-timeout",
        "20",
        "--timeout",
        "60",
        "--logger-class",
        "musicstore.common.access_log.RedactingLogger",
        "--access-logfile",
        "-",
        "--access-logformat",
        '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s',
    ]
