"""Run several processes with their output prefixed on the terminal; stop them all together.

This is also `musicstore up`'s long-lived process (`python -m musicstore.supervisor`): `musicstore up` works out
the stack (settings, secrets, ports, PostgreSQL's data directory, each child's command and environment) and then
replaces itself with this module, handing it the plan in MUSICSTORE_UP_PLAN. It imports the standard library
only, so the process that lives as long as the stack holds none of the services' code: each service prepares
itself (`musicstore serve SERVICE`: migrations, the demo catalog) in its own process, then runs gunicorn.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO, Any
from urllib.parse import urlsplit

PLAN_VARIABLE = "MUSICSTORE_UP_PLAN"
OUTPUTS_VARIABLE = "MUSICSTORE_OUTPUT_FDS"  # musicstore.zygote.OUTPUTS_VARIABLE
# What the embedded server logs as FATAL for expected events, not failures, which the terminal does not show: each
# session it ends after a minute idle (musicstore.common.embedded_pg), and each of create_database's connection
# attempts while it starts.
IDLE_SESSION_ENDED = "terminating connection due to idle-session timeout"
STARTING_UP = "the database system is starting up"
POSTGRES_EXPECTED = (IDLE_SESSION_ENDED, STARTING_UP)

COLOURS = ["\033[35m", "\033[36m", "\033[32m", "\033[33m", "\033[34m"]
RESET = "\033[0m"


class Supervisor:
    """Children whose lines are printed as `name | line`; the first to die stops the rest."""

    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = threading.Event()
        self.failed: str | None = None
        self._lock = threading.Lock()
        self._width = 8
        self._tty = sys.stdout.isatty()

    def prefix(self, name: str) -> str:
        """The coloured `name |` printed before each of a process's lines."""
        colour = COLOURS[hash(name) % len(COLOURS)] if self._tty else ""
        return f"{colour}{name:<{self._width}}|{RESET if colour else ''} "

    def say(self, name: str, line: str) -> None:
        """Print one line under a name."""
        self.say_all(name, [line])

    def say_all(self, name: str, lines: list[str]) -> None:
        """Print lines under a name, in one write."""
        prefix = self.prefix(name)
        text = "".join(prefix + line.rstrip("\n") + "\n" for line in lines)
        with self._lock:
            sys.stdout.write(text)
            sys.stdout.flush()

    def pipe(self, name: str, stream: IO[bytes], hide: Sequence[str] = ()) -> None:
        """Copy a stream to the terminal in a thread: every whole line that has arrived, in one write (but the lines
        that contain one of `hide`).

        A busy service writes a line per request (its access log): copied one at a time, each line cost the
        supervisor a wake-up, a read and a write of its own; taken together, whatever arrived while it printed
        the last lines goes out at once.
        """

        def _copy() -> None:
            pending = b""
            while chunk := _read_some(stream):
                *lines, pending = (pending + chunk).split(b"\n")
                shown = [line for line in (line.decode(errors="replace") for line in lines) if not _hidden(line)]
                if shown:
                    self.say_all(name, shown)
            if pending and not _hidden(last := pending.decode(errors="replace")):
                self.say(name, last)
            stream.close()

        def _hidden(line: str) -> bool:
            return any(text in line for text in hide)

        threading.Thread(target=_copy, daemon=True, name=f"log-{name}").start()

    def start(
        self, name: str, args: Sequence[str], env: dict[str, str], outputs: Sequence[str] = ()
    ) -> subprocess.Popen[bytes]:
        """Start a child with its output on the terminal. A child that runs several named processes (`outputs`)
        gets a pipe for each, their file descriptors in MUSICSTORE_OUTPUT_FDS, and their lines under those names."""
        pipes = {output: os.pipe() for output in outputs}
        fds = {output: write for output, (_read, write) in pipes.items()}
        try:
            process = subprocess.Popen(
                list(args),
                env={**env, OUTPUTS_VARIABLE: json.dumps(fds)} if outputs else env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=list(fds.values()),
            )
        finally:
            for fd in fds.values():
                os.close(fd)  # the child has them: each pipe ends when what writes to it is gone
        assert process.stdout is not None
        self.pipe(name, process.stdout)
        for output, (read, _write) in pipes.items():
            self.pipe(output, os.fdopen(read, "rb"))
        self.children.append((name, process))
        threading.Thread(target=self._watch, args=(name, process), daemon=True).start()
        return process

    def adopt(self, name: str, process: subprocess.Popen[bytes], hide: Sequence[str] = ()) -> None:
        """Watch a child started elsewhere (its stdout must be a pipe; lines containing one of `hide` are not shown);
        it is stopped last."""
        if process.stdout is not None:
            self.pipe(name, process.stdout, hide)
        threading.Thread(target=self._watch, args=(name, process), daemon=True).start()

    def _watch(self, name: str, process: subprocess.Popen[bytes]) -> None:
        code = process.wait()
        if not self.stopping.is_set():
            self.failed = f"{name} exited with code {code}"
            self.stopping.set()

    def fail(self, reason: str) -> None:
        """Stop everything because of `reason` (said at the end)."""
        if not self.stopping.is_set():
            self.failed = reason
            self.stopping.set()

    def wait_until_serving(self, urls: Sequence[tuple[str, str]], timeout: float = 60.0) -> bool:
        """Wait (bounded) until each URL answers 200; False when start-up failed or took longer meanwhile."""
        deadline = time.monotonic() + timeout
        for name, url in urls:
            while not self.stopping.is_set():
                if answers_200(url):
                    break
                if time.monotonic() > deadline:
                    self.fail(f"{name} did not start within {timeout:.0f}s")
                    return False
                self.stopping.wait(0.05)  # a bounded poll of a service that is starting
        return not self.stopping.is_set()

    def wait_for_stop_signal(self) -> None:
        """Block until Ctrl-C, SIGTERM or a child's death."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stopping.set())
        while not self.stopping.wait(0.5):
            pass

    def stop_all(self, timeout: float = 20.0) -> None:
        """Stop the children, newest first: SIGTERM, then SIGKILL for those that linger."""
        self.stopping.set()
        for name, process in reversed(self.children):
            if process.poll() is None:
                self.say("up", f"stopping {name}")
                process.terminate()
        for name, process in reversed(self.children):
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.say("up", f"{name} did not stop in {timeout:.0f}s; killing it and what it started")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)  # its own session: the browsers it started too
                process.wait(timeout)


def _read_some(stream: IO[bytes]) -> bytes:
    """What the stream has now (at least a byte, waiting for one), or b"" at its end."""
    read1 = getattr(stream, "read1", None)
    return read1(65536) if read1 is not None else stream.read(1)


def answers_200(url: str, timeout: float = 2.0) -> bool:
    """True when a GET of `url` (http://host:port/path, a loopback address: never through a proxy) answers 200.

    Over a plain socket: urllib.request and http.client import ssl and email, 4 of this process's 10 MB for
    one status line."""
    parts = urlsplit(url)
    request = f"GET {parts.path or '/'} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n"
    try:
        with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=timeout) as connection:
            connection.sendall(request.encode("ascii"))
            status_line = connection.makefile("rb").readline(256)
    except (OSError, ValueError, UnicodeError):  # refused, reset, timed out; a URL without a port or with odd text
        return False
    return status_line.split()[1:2] == [b"200"]


# `musicstore up`'s long-lived process ----------------------------------------------------------------------------


def run(plan: dict[str, Any]) -> int:
    """Run a stack until Ctrl-C, SIGTERM or a child's death: PostgreSQL (if planned), then every child at once,
    but those marked `after_ready`, which start once the others answer."""
    sup = Supervisor()
    database: subprocess.Popen[bytes] | None = None
    postgres = plan.get("postgres")
    first = [child for child in plan["children"] if not child.get("after_ready")]
    later = [child for child in plan["children"] if child.get("after_ready")]
    try:
        if postgres:
            database = start_postgres(sup, postgres)
        _start(sup, first)  # together: each waits (bounded) for what it needs
        database_ready = create_database(sup, postgres) if postgres else True
        if database_ready and sup.wait_until_serving(_urls(plan, first)):
            _start(sup, later)
            if sup.wait_until_serving(_urls(plan, later)):
                for line in plan["banner"]:
                    sup.say("up", line)
        sup.wait_for_stop_signal()
    finally:
        sup.stop_all()
        if database is not None:
            sup.say("up", "stopping PostgreSQL")
            stop_postgres(database)
    if sup.failed:
        sup.say("up", f"stopped because {sup.failed}")
        return 1
    sup.say("up", "stopped; bye")
    return 0


def _start(sup: Supervisor, children: list[dict[str, Any]]) -> None:
    for child in children:
        sup.start(child["name"], child["args"], {**os.environ, **child["env"]}, child.get("outputs", ()))


def _urls(plan: dict[str, Any], children: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The readiness URLs of these children (and of the processes a child runs, named by its outputs)."""
    names = {child["name"] for child in children}
    names |= {output for child in children for output in child.get("outputs", ())}
    return [(name, url) for name, url in plan["ready"] if name in names]


def start_postgres(sup: Supervisor, postgres: dict[str, Any]) -> subprocess.Popen[bytes]:
    """Start the embedded PostgreSQL server (its data directory is ready) with its output under `postgres`."""
    process = subprocess.Popen(
        postgres["args"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        user=postgres.get("run_as"),
        start_new_session=True,
    )
    sup.adopt("postgres", process, hide=POSTGRES_EXPECTED)
    return process


def create_database(sup: Supervisor, postgres: dict[str, Any], timeout: float = 60.0) -> bool:
    """Wait (bounded) until the server accepts connections, then create the stack's database unless it exists."""
    bin_dir, port, name = postgres["bin"], str(postgres["port"]), postgres["database"]
    client = {**os.environ, "PGPASSWORD": postgres["password"], "PGCONNECT_TIMEOUT": "2"}
    where = ["-h", "127.0.0.1", "-p", port, "-U", postgres["user"]]
    deadline = time.monotonic() + timeout
    ready = [f"{bin_dir}/pg_isready", *where, "-d", "postgres", "-t", "1"]
    while subprocess.run(ready, capture_output=True, env=client, check=False).returncode != 0:
        if sup.stopping.is_set():
            return False
        if time.monotonic() > deadline:
            sup.fail(f"PostgreSQL did not accept connections within {timeout:.0f}s")
            return False
        sup.stopping.wait(0.05)  # a bounded poll of a server that is starting
    # psql quotes the name itself (:'name' a literal, :"name" an identifier) in what it reads from stdin.
    psql = [f"{bin_dir}/psql", *where, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-v", f"name={name}", "-tA"]
    exists = "SELECT 1 FROM pg_database WHERE datname = :'name';"
    found = subprocess.run(psql, input=exists, capture_output=True, env=client, text=True, check=False)
    if found.returncode == 0 and not found.stdout.strip():
        create = 'CREATE DATABASE :"name";'
        found = subprocess.run(psql, input=create, capture_output=True, env=client, text=True, check=False)
    if found.returncode != 0:
        sup.fail(f"could not create the database {name}: {found.stderr.strip()}")
        return False
    sup.say("up", postgres["message"])
    return True


def stop_postgres(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Stop the server (fast shutdown: SIGINT), killing it if it does not stop in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


def main() -> int:
    """`musicstore up`'s long-lived process: run the plan `musicstore up` handed over."""
    plan = json.loads(os.environ.pop(PLAN_VARIABLE))
    return run(plan)


if __name__ == "__main__":
    sys.exit(main())
