"""The traffic generator's settings, read from the environment in one place."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from musicstore.common.settings import START_UP_ADVICE, ConfigurationError

# The user types and their default weights: any run of four or more users has a browser and an HTTP shopper.
DEFAULT_WEIGHTS = {"browser": 1, "http": 3, "window": 2, "declined": 1, "admin": 1}
WEIGHT_ITEM = re.compile(r"^\s*([a-z]+)\s*=\s*(\d{1,4})\s*$")
HOST_ITEM = re.compile(r"^\s*([A-Za-z0-9.-]+)\s*=\s*([A-Za-z0-9.-]+(?::\d{1,5})?)\s*$")
MAP_TARGET_ITEM = re.compile(r"^\s*(store|cart|orders)\s*=\s*(https?://[A-Za-z0-9.\[\]:-]+(?:/\S*)?)\s*$")


def parse_host_map(text: str) -> dict[str, str]:
    """`public-name=reachable-name,...`: where the browser finds a public host name inside a deployment."""
    hosts = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = HOST_ITEM.match(item)
        if not match:
            raise ValueError(f"not a host mapping: {item!r} (use PUBLIC-HOST=HOST, e.g. store.shop.localhost=store)")
        hosts[match.group(1)] = match.group(2)
    return hosts


def parse_map_targets(text: str) -> dict[str, str]:
    """`store=URL,cart=URL,orders=URL`: where the service map reads each service's /metrics (those named)."""
    targets = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = MAP_TARGET_ITEM.match(item)
        if not match:
            raise ValueError(f"not a map target: {item!r} (use store=URL, cart=URL or orders=URL)")
        targets[match.group(1)] = match.group(2).rstrip("/")
    return targets


def parse_weights(text: str) -> dict[str, int]:
    """`browser=1,http=3,...` as a dict; names not given keep their default weight."""
    weights = dict(DEFAULT_WEIGHTS)
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = WEIGHT_ITEM.match(item)
        if not match or match.group(1) not in DEFAULT_WEIGHTS:
            raise ValueError(f"not a weight: {item!r} (use NAME=N with NAME one of {', '.join(DEFAULT_WEIGHTS)})")
        weights[match.group(1)] = int(match.group(2))
    if not any(weights.values()):
        raise ValueError("at least one user type needs a weight above 0")
    return weights


class TrafficSettings(BaseSettings):
    """Targets, credentials, think time, browser limits and the user mix of the traffic generator."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True)

    MODE: Literal["local", "production"] = "production"
    TRAFFIC_PORT: int = Field(default=5004, ge=1, le=65535)
    TRAFFIC_BIND: str = ""
    STORE_SERVICE_URL: str = ""
    ORDER_SERVICE_URL: str = ""
    CART_SERVICE_URL: str = ""
    STORE_PUBLIC_URL: str = ""
    ORDER_PUBLIC_URL: str = ""
    CART_PUBLIC_URL: str = ""
    SERVICE_TOKEN: str = ""
    ADMIN_USER: str = "admin"
    ADMIN_PASSWORD: str = ""
    TRAFFIC_WEIGHTS: str = ""
    # Inside Compose or Kubernetes the public host names mean the ingress (or this container itself): the
    # browser is told where each one is reachable from here instead.
    TRAFFIC_BROWSER_HOSTS: str = ""
    TRAFFIC_THINK_MIN: float = Field(default=1.0, ge=0, le=600)
    TRAFFIC_THINK_MAX: float = Field(default=3.0, ge=0, le=600)
    TRAFFIC_MAX_BROWSERS: int = Field(default=4, ge=0, le=64)
    TRAFFIC_BROWSER_JOURNEYS: int = Field(default=20, ge=1, le=10_000)
    TRAFFIC_STOP_TIMEOUT: float = Field(default=60, ge=0, le=3600)
    TRAFFIC_REQUEST_TIMEOUT: float = Field(default=30, gt=0, le=300)
    # Chromium's own sandbox needs user namespaces, which a container's seccomp profile forbids; in the image the
    # container is the sandbox (the traffic image sets this to false). As root it cannot run at all.
    TRAFFIC_CHROMIUM_SANDBOX: bool = True
    CHROMIUM_PATH: str = "/usr/bin/chromium"
    CHROMEDRIVER_PATH: str = "/usr/bin/chromedriver"
    DATA_DIR: Path = Path("var")
    # The fault switches' flag file the Faults tab shows and writes (default DATA_DIR/flags.json). Read-only where
    # the flags come from elsewhere (a Kubernetes ConfigMap): the tab shows them, and a change answers 409.
    FLAGS_FILE: Path | None = None
    FLAGS_READ_ONLY: bool = False
    # The service map reads every service's /metrics each TRAFFIC_MAP_INTERVAL seconds and its rates are over the
    # last TRAFFIC_MAP_WINDOW seconds. It reads the services the run targets, unless TRAFFIC_MAP_TARGETS names others
    # (store=URL,...); with TRAFFIC_MAP_EVERY_ADDRESS each target's host name is resolved to all its addresses and
    # each one is read: a headless Service's name gives every pod of a service with replicas.
    TRAFFIC_MAP_INTERVAL: float = Field(default=5, ge=0.2, le=300)
    TRAFFIC_MAP_WINDOW: float = Field(default=15, ge=0.2, le=3600)
    TRAFFIC_MAP_TARGETS: str = ""
    TRAFFIC_MAP_EVERY_ADDRESS: bool = False

    @field_validator("TRAFFIC_WEIGHTS")
    @classmethod
    def _weights(cls, value: str) -> str:
        """Refuse at start-up a user mix that cannot be read."""
        parse_weights(value)
        return value

    @field_validator("TRAFFIC_BROWSER_HOSTS")
    @classmethod
    def _hosts(cls, value: str) -> str:
        """Refuse at start-up a host mapping that cannot be read."""
        parse_host_map(value)
        return value

    @field_validator("TRAFFIC_MAP_TARGETS")
    @classmethod
    def _map_targets(cls, value: str) -> str:
        """Refuse at start-up a map target that cannot be read."""
        parse_map_targets(value)
        return value

    @model_validator(mode="after")
    def _defaults(self) -> TrafficSettings:
        """Local targets default to this machine's services; public URLs to the service URLs."""
        if self.MODE == "local":
            for prefix, port in (("STORE", 5000), ("ORDER", 5001), ("CART", 5002)):
                if not getattr(self, f"{prefix}_SERVICE_URL"):
                    setattr(self, f"{prefix}_SERVICE_URL", f"http://localhost:{port}")
        for prefix in ("STORE", "ORDER", "CART"):
            service = getattr(self, f"{prefix}_SERVICE_URL").rstrip("/")
            setattr(self, f"{prefix}_SERVICE_URL", service)
            setattr(self, f"{prefix}_PUBLIC_URL", (getattr(self, f"{prefix}_PUBLIC_URL") or service).rstrip("/"))
        if self.TRAFFIC_THINK_MAX < self.TRAFFIC_THINK_MIN:
            raise ValueError("TRAFFIC_THINK_MAX must not be below TRAFFIC_THINK_MIN")
        if self.TRAFFIC_MAP_WINDOW < self.TRAFFIC_MAP_INTERVAL:
            raise ValueError("TRAFFIC_MAP_WINDOW must be at least TRAFFIC_MAP_INTERVAL (one scrape)")
        return self

    @property
    def flags_file(self) -> Path:
        """The fault switches' flag file: FLAGS_FILE, else DATA_DIR/flags.json."""
        return self.FLAGS_FILE or self.DATA_DIR / "flags.json"

    @property
    def weights(self) -> dict[str, int]:
        """The weight of each user type."""
        return parse_weights(self.TRAFFIC_WEIGHTS)

    def map_targets(self, service_urls: dict[str, str]) -> dict[str, str]:
        """Where the service map reads each service: TRAFFIC_MAP_TARGETS where it names one, else its service URL."""
        return {**service_urls, **parse_map_targets(self.TRAFFIC_MAP_TARGETS)}

    @property
    def bind_host(self) -> str:
        """Where the web UI listens: loopback in local mode, every address elsewhere (TRAFFIC_BIND wins)."""
        return self.TRAFFIC_BIND or ("127.0.0.1" if self.MODE == "local" else "0.0.0.0")  # noqa: S104

    @property
    def ui_needs_login(self) -> bool:
        """The UI and its APIs take the admin's credentials everywhere but local mode."""
        return self.MODE != "local"

    def require(self, weights: dict[str, int] | None = None, *, worker: bool = False) -> None:
        """Stop start-up with a clear message when a target or a credential the run needs is missing.

        A worker needs only the service token: its master sends the targets and the user mix.
        """
        if worker:
            if not self.SERVICE_TOKEN:
                raise ConfigurationError("missing required setting SERVICE_TOKEN in this worker's environment")
            return
        weights = weights if weights is not None else self.weights
        missing = [f"{p}_SERVICE_URL" for p in ("STORE", "ORDER", "CART") if not getattr(self, f"{p}_SERVICE_URL")]
        if not self.SERVICE_TOKEN:
            missing.append("SERVICE_TOKEN (to verify orders)")
        if weights.get("admin", 0) > 0 and not self.ADMIN_PASSWORD:
            missing.append("ADMIN_PASSWORD (the admin user type's weight is above 0)")
        if missing:
            raise ConfigurationError(f"missing required setting(s) {', '.join(missing)}: {START_UP_ADVICE}")
