"""Run several processes with their output prefixed on the terminal; stop them all together."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO

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

    def prefix(self, name: str) -> str:
        """The coloured `name |` printed before each of a process's lines."""
        colour = COLOURS[hash(name) % len(COLOURS)] if sys.stdout.isatty() else ""
        return f"{colour}{name:<{self._width}}|{RESET if colour else ''} "

    def say(self, name: str, line: str) -> None:
        """Print one line under a name."""
        with self._lock:
            sys.stdout.write(self.prefix(name) + line.rstrip("\n") + "\n")
            sys.stdout.flush()

    def pipe(self, name: str, stream: IO[bytes]) -> None:
        """Copy a stream to the terminal, line by line, in a thread."""

        def _copy() -> None:
            for raw in iter(stream.readline, b""):
                self.say(name, raw.decode(errors="replace"))

        threading.Thread(target=_copy, daemon=True, name=f"log-{name}").start()

    def start(self, name: str, args: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start a child with its output on the terminal."""
        process = subprocess.Popen(
            list(args),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert process.stdout is not None
        self.pipe(name, process.stdout)
        self.children.append((name, process))
        threading.Thread(target=self._watch, args=(name, process), daemon=True).start()
        return process

    def adopt(self, name: str, process: subprocess.Popen[bytes]) -> None:
        """Watch a child started elsewhere (its stdout must be a pipe); it is stopped last."""
        if process.stdout is not None:
            self.pipe(name, process.stdout)
        threading.Thread(target=self._watch, args=(name, process), daemon=True).start()

    def _watch(self, name: str, process: subprocess.Popen[bytes]) -> None:
        code = process.wait()
        if not self.stopping.is_set():
            self.failed = f"{name} exited with code {code}"
            self.stopping.set()

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
