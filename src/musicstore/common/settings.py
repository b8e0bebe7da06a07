"""The settings every service shares, read from the environment in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

START_UP_ADVICE = "run `musicstore up` for a local stack, or set it in the environment"


URL_PREFIXES = {"store": "STORE", "orders": "ORDER", "cart": "CART"}


class ConfigurationError(RuntimeError):
    """A setting the service cannot start without is missing or wrong."""


class ServiceSettings(BaseSettings):
    """Settings common to every service; each service subclasses it."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True)

    MODE: Literal["local", "production"] = "production"
    DATA_DIR: Path = Path("var")
    SECRET_KEY: str = ""
    ADMIN_USER: str = "admin"
    ADMIN_PASSWORD: str = ""
    SERVICE_TOKEN: str = ""
    LOG_FORMAT: Literal["json", "text"] = "json"
    LOG_LEVEL: str = "INFO"

    STORE_SERVICE_URL: str = "http://localhost:5000"
    ORDER_SERVICE_URL: str = "http://localhost:5001"
    CART_SERVICE_URL: str = "http://localhost:5002"
    STORE_PUBLIC_URL: str = ""
    ORDER_PUBLIC_URL: str = ""
    CART_PUBLIC_URL: str = ""
    HTTP_TIMEOUT: float = Field(default=3.0, gt=0, le=60)
    # Proxies in front of the service whose X-Forwarded-* headers are trusted (an ingress: 1). 0 trusts none.
    FORWARDED_HOPS: int = Field(default=0, ge=0, le=5)
    # Where rate-limit counts live: memory:// is one count for all of this server's workers (a temporary file);
    # a shared store (e.g. redis://...) counts across replicas too.
    RATELIMIT_STORAGE_URI: str = "memory://"
    # An admin session ends this long after log-in, however busy it is (and at log-out).
    SESSION_LIFETIME_HOURS: float = Field(default=8, gt=0, le=24 * 7)
    # The fault switches' flag file (flagd format, musicstore.common.flags); without one every flag is off.
    FLAGS_FILE: Path | None = None

    @model_validator(mode="after")
    def _public_urls_default_to_service_urls(self) -> ServiceSettings:
        """A browser-facing URL defaults to the server-to-server one; DATA_DIR is made absolute once, here.

        A relative DATA_DIR means relative to where the service started, not to the package (Flask would
        resolve a relative folder against the app's root: uploaded covers would be written in one place and
        looked for in another).
        """
        self.DATA_DIR = self.DATA_DIR.resolve()
        for name in ("STORE", "ORDER", "CART"):
            if not getattr(self, f"{name}_PUBLIC_URL"):
                setattr(self, f"{name}_PUBLIC_URL", getattr(self, f"{name}_SERVICE_URL"))
            for key in (f"{name}_PUBLIC_URL", f"{name}_SERVICE_URL"):
                setattr(self, key, getattr(self, key).rstrip("/"))
        return self

    @property
    def flags_file(self) -> Path:
        """Where the fault switches' flags are read from: FLAGS_FILE, else DATA_DIR/flags.json."""
        return self.FLAGS_FILE or self.DATA_DIR / "flags.json"

    def public_url_of(self, service: str) -> str:
        """The browser-facing URL of a service named store, orders or cart."""
        url: str = getattr(self, f"{URL_PREFIXES[service]}_PUBLIC_URL")
        return url

    def require_secrets(self) -> None:
        """Stop start-up with a clear message when a secret is missing."""
        missing = [k for k in ("SECRET_KEY", "ADMIN_PASSWORD", "SERVICE_TOKEN") if not getattr(self, k)]
        if missing:
            raise ConfigurationError(f"missing required setting(s) {', '.join(missing)}: {START_UP_ADVICE}")

    @property
    def session_lifetime(self) -> int:
        """Seconds from an admin's log-in to the end of the session."""
        return int(self.SESSION_LIFETIME_HOURS * 3600)

    def flask_config(self) -> dict[str, object]:
        """The Flask configuration these settings imply."""
        return {
            "SECRET_KEY": self.SECRET_KEY,
            "SETTINGS": self,
            "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "PERMANENT_SESSION_LIFETIME": self.session_lifetime,
            # A session cookie is sent when it changes, not with a fresh expiry on every answer.
            "SESSION_REFRESH_EACH_REQUEST": False,
            "WTF_CSRF_TIME_LIMIT": None,
        }


class OwnDatabase(ServiceSettings):
    """A service whose database is a SQLite file in DATA_DIR by default, or PostgreSQL when its URL is set
    (so it can run with several replicas). A subclass names its two settings, e.g. CART_DB_PATH and
    CART_DATABASE_URL, by DATABASE_PREFIX, and its file by SQLITE_FILE."""

    DATABASE_PREFIX: ClassVar[str]
    SQLITE_FILE: ClassVar[str]

    def _own(self, name: str) -> Any:
        return getattr(self, f"{self.DATABASE_PREFIX}_{name}")

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file used when no PostgreSQL URL is given."""
        path: Path = self._own("DB_PATH") or self.DATA_DIR / self.SQLITE_FILE
        return path

    def uses_sqlite(self) -> bool:
        """True when the service keeps its data in its SQLite file."""
        return not self._own("DATABASE_URL")

    def database_url(self) -> str:
        """The SQLAlchemy URL of the service's database: PostgreSQL when configured, else the SQLite file."""
        url: str = self._own("DATABASE_URL")
        return normalise_postgres_url(url) if url else sqlite_url(self.sqlite_path)


class PostgresSettings(BaseSettings):
    """The seed's database variables, and DATABASE_URL which wins over them."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True)

    DATABASE_URL: str = ""
    DB_HOST: str = "localhost"
    DB_PORT: int = Field(default=5432, ge=1, le=65535)
    DB_NAME: str = "music_store"
    DB_USER: str = "music_user"
    DB_PASSWORD: str = ""

    def database_url(self) -> str:
        """The SQLAlchemy URL of the PostgreSQL database."""
        if self.DATABASE_URL:
            return normalise_postgres_url(self.DATABASE_URL)
        auth = quote(self.DB_USER, safe="")
        if self.DB_PASSWORD:
            auth += ":" + quote(self.DB_PASSWORD, safe="")
        return f"postgresql+psycopg://{auth}@{self.DB_HOST}:{self.DB_PORT}/{self.DB_NAME}"


def normalise_postgres_url(url: str) -> str:
    """Use the psycopg 3 driver for a plain postgres:// or postgresql:// URL."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"
