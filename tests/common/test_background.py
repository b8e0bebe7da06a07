"""Work a gunicorn master hands to its workers: in each of them, or in one at a time."""

from __future__ import annotations

import os
import select
import signal
from collections.abc import Iterator

import pytest

from musicstore.common import background


@pytest.fixture()
def master(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process as a gunicorn master that has not forked yet, with nothing kept for its workers."""
    monkeypatch.setenv("SERVER_SOFTWARE", "gunicorn/test")
    monkeypatch.setattr(background, "_forked", False)
    monkeypatch.setattr(background, "_waiting", [])
    yield


def fork_worker(report: int) -> int:
    """A forked "worker" that starts the kept work, then waits to be killed; its pid."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            background.after_fork()
            signal.pause()
        finally:
            os._exit(0)
    return pid


def next_report(read: int, timeout: float = 10.0) -> int | None:
    """The pid the next process to run the work wrote, or None when none did within `timeout` seconds."""
    ready, _, _ = select.select([read], [], [], timeout)
    return int(os.read(read, 16).decode().strip()) if ready else None


def test_work_for_one_process_runs_in_one_worker_and_in_another_when_that_one_ends(master: None) -> None:
    read, write = os.pipe()
    background.in_one_process("sweep", lambda: os.write(write, f"{os.getpid():>15}\n".encode()))
    workers = [fork_worker(write), fork_worker(write)]
    try:
        first = next_report(read)
        assert first in workers
        assert next_report(read, timeout=0.5) is None  # the other worker waits its turn
        os.kill(first, signal.SIGKILL)
        os.waitpid(first, 0)
        workers.remove(first)
        assert next_report(read) == workers[0]
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(read)
        os.close(write)


def test_work_for_one_process_runs_at_once_outside_a_gunicorn_master(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    ran: list[str] = []
    background.in_one_process("sweep", lambda: ran.append("sweep"))
    assert ran == ["sweep"]
