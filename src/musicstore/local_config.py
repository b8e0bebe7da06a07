"""Settings of `musicstore up` and `serve`, read from the environment in one place."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from musicstore.common import flags
from musicstore.common.settings import URL_PREFIXES

SERVICES = {"store": 5000, "orders": 5001, "cart": 5002}
PORT_VARS = {"store": "STORE_PORT", "orders": "ORDER_PORT", "cart": "CART_PORT"}


CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cpus(cpu_max: Path | None = None) -> int:
    """The number of CPUs this process may use, at least 1: those it may run on (its affinity: a cpuset), and
    no more than its cgroup's CPU quota allows, rounded up (a Kubernetes CPU limit of 1 on a 32-core node is
    one worker, not 32, each of which would count against the pod's memory limit)."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = (cpu_max or CGROUP_CPU_MAX).read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, -(-int(quota) // int(period)))
    except (OSError, ValueError):  # no cgroup v2 file (or not this form): the affinity alone
        pass
    return max(1, cpus)


class LocalSettings(BaseSettings):
    """What the CLI itself reads: ports, the data directory, an external database, secrets chosen by the user."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True)

    DATA_DIR: Path = Path("var")
    DATABASE_URL: str = ""
    DB_HOST: str = ""
    DB_PORT: int = Field(default=5432, ge=1, le=65535)
    STORE_PORT: int = Field(default=5000, ge=1, le=65535)
    ORDER_PORT: int = Field(default=5001, ge=1, le=65535)
    CART_PORT: int = Field(default=5002, ge=1, le=65535)
    TRAFFIC_PORT: int = Field(default=5004, ge=1, le=65535)
    # Under `up`, a run stopped by Ctrl-C gives journeys under way this long (the supervisor waits 20 s).
    TRAFFIC_STOP_TIMEOUT: float = Field(default=10, ge=0, le=15)
    PORT: int | None = Field(default=None, ge=1, le=65535)
    ADMIN_PASSWORD: str = ""
    SECRET_KEY: str = ""
    SERVICE_TOKEN: str = ""
    LOG_FORMAT: str = "text"
    WEB_THREADS: int = Field(default=8, ge=1, le=64)
    # Default: one worker process per CPU this process may run on (each worker is one core at most).
    WEB_WORKERS: int = Field(default_factory=lambda: usable_cpus(), ge=1, le=32)
    PROMETHEUS_MULTIPROC_DIR: Path | None = None  # where `serve`'s workers keep their metrics (default: a new temp dir)
    STORE_SERVICE_URL: str = ""
    ORDER_SERVICE_URL: str = ""
    CART_SERVICE_URL: str = ""


@lru_cache(maxsize=1)
def settings() -> LocalSettings:
    """The CLI's settings, read once."""
    return LocalSettings()


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
    path = settings().DATA_DIR.resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_secrets(directory: Path) -> LocalSecrets:
    """Read the stack's secrets from the data directory, generating the missing ones."""
    path = directory / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for key in ("SECRET_KEY", "SERVICE_TOKEN", "DB_PASSWORD", "ADMIN_PASSWORD"):
        stored.setdefault(key, secrets.token_urlsafe(18 if key == "ADMIN_PASSWORD" else 32))
    # Created private, never readable by others even for a moment (chmod after writing would leave a window).
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(json.dumps(stored, indent=2))
    path.chmod(0o600)
    chosen = settings()
    return LocalSecrets(
        secret_key=chosen.SECRET_KEY or stored["SECRET_KEY"],
        service_token=chosen.SERVICE_TOKEN or stored["SERVICE_TOKEN"],
        db_password=stored["DB_PASSWORD"],
        admin_password=chosen.ADMIN_PASSWORD or stored["ADMIN_PASSWORD"],
        admin_password_generated=not chosen.ADMIN_PASSWORD,
    )


def external_database() -> bool:
    """True when DATABASE_URL or DB_HOST points at a PostgreSQL server of the user's."""
    return bool(settings().DATABASE_URL or settings().DB_HOST)


def wanted_db_port() -> int:
    """The port the embedded PostgreSQL should listen on."""
    return settings().DB_PORT


def service_port(service: str) -> int:
    """A service's port (STORE_PORT, ORDER_PORT, CART_PORT override the defaults)."""
    port: int = getattr(settings(), PORT_VARS[service])
    return port


def traffic_port() -> int:
    """The traffic generator's port (TRAFFIC_PORT)."""
    return settings().TRAFFIC_PORT


def traffic_settings() -> dict[str, str]:
    """What `up` tells its traffic generator beside the stack's environment."""
    chosen = settings()
    return {"TRAFFIC_PORT": str(chosen.TRAFFIC_PORT), "TRAFFIC_STOP_TIMEOUT": f"{chosen.TRAFFIC_STOP_TIMEOUT:g}"}


def traffic_env() -> dict[str, str]:
    """The environment of `musicstore traffic`: this one, and beside a local stack its mode, targets and secrets.

    Next to a data directory that `musicstore up` made (DATA_DIR/secrets.json) and with no MODE chosen, the
    generator runs in local mode against this machine's services with the stack's token and admin password.
    """
    env = dict(os.environ)
    path = settings().DATA_DIR / "secrets.json"
    if "MODE" in env or not path.exists():
        return env
    stored: dict[str, str] = json.loads(path.read_text())
    env["MODE"] = "local"
    env.setdefault("SERVICE_TOKEN", stored.get("SERVICE_TOKEN", ""))
    env.setdefault("ADMIN_PASSWORD", stored.get("ADMIN_PASSWORD", ""))
    for service, prefix in URL_PREFIXES.items():
        env.setdefault(f"{prefix}_SERVICE_URL", f"http://localhost:{service_port(service)}")
    return env


def serve_port(service: str) -> int:
    """The port `serve` binds: PORT, else the service's own port setting."""
    return settings().PORT or service_port(service)


def flag_file(directory: Path) -> Path:
    """The fault switches' flag file of a local stack: written with every flag off at the first start, kept after."""
    path = directory / "flags.json"
    flags.ensure_file(path)
    return path


def local_env(directory: Path, found: LocalSecrets, database_url: str | None) -> dict[str, str]:
    """The environment every process of a local stack runs with."""
    chosen = settings()
    env = {
        "MODE": "local",
        "DATA_DIR": str(directory),
        "LOG_FORMAT": chosen.LOG_FORMAT,
        "SECRET_KEY": found.secret_key,
        "SERVICE_TOKEN": found.service_token,
        "ADMIN_PASSWORD": found.admin_password,
        "FLAGS_FILE": str(directory / "flags.json"),  # every service reads it; the traffic UI's Faults tab writes it
    }
    for service, prefix in URL_PREFIXES.items():
        given = getattr(chosen, f"{prefix}_SERVICE_URL")
        env[f"{prefix}_SERVICE_URL"] = given or f"http://localhost:{service_port(service)}"
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def metrics_env(service: str, data: Path | None = None) -> dict[str, str]:
    """PROMETHEUS_MULTIPROC_DIR for one start of a service's gunicorn: a private directory without old metrics.

    Under `up` (data given): DATA_DIR/metrics/<service>. Under `serve`: the directory PROMETHEUS_MULTIPROC_DIR
    names (a container may mount a volume there), else a new one in the temporary folder (TMPDIR, /tmp: writable
    in Compose's tmpfs and Kubernetes' emptyDir though the root file system is read-only).
    """
    # prometheus-client reads PROMETHEUS_MULTIPROC_DIR when it is first imported: `serve` sets it before that.
    from musicstore.common.metric_files import MULTIPROC_DIR, prepare_multiprocess_dir  # no prometheus-client yet

    chosen = settings().PROMETHEUS_MULTIPROC_DIR
    if data is not None:
        path = prepare_multiprocess_dir(data / "metrics" / service)
    elif chosen is not None:
        path = prepare_multiprocess_dir(chosen.resolve())
    else:
        path = Path(tempfile.mkdtemp(prefix=f"musicstore-{service}-metrics-"))
    return {MULTIPROC_DIR: str(path)}


def gunicorn_options() -> list[str]:
    """Server options shared by `up` and `serve` (WEB_WORKERS and WEB_THREADS tune the process and thread counts).

    The app is preloaded in the master and the workers fork from it (shared memory); what each worker must
    start for itself starts after the fork (musicstore.gunicorn_config, musicstore.common.background).
    """
    chosen = settings()
    return [
        "--no-control-socket",
        "--preload",
        # hooks: several workers' metrics add up (musicstore.gunicorn_config)
        "--config", "python:musicstore.gunicorn_config",
        # gthread, with gunicorn's own error answers (414, 400) in JSON
        "--worker-class", "musicstore.common.worker.JsonErrorWorker",
        "--workers", str(chosen.WEB_WORKERS), "--threads", str(chosen.WEB_THREADS),
        "--graceful-timeout", "20", "--timeout", "60",
        "--logger-class", "musicstore.common.access_log.RedactingLogger",
        "--access-logfile", "-",
        "--access-logformat", '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s',
    ]  # fmt: skip
