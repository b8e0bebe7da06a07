"""`musicstore serve` prepares its service (migrations, the demo catalog) in a child process that exits, so that
gunicorn's master, which runs next in the same process, keeps none of that memory (#16)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from musicstore import cli


def test_a_service_is_prepared_in_another_process_that_has_ended(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen = tmp_path / "prepared-by"
    monkeypatch.setattr(cli, "prepare", lambda service: seen.write_text(f"{service} {os.getpid()}"))
    cli.prepare_apart("orders")
    service, pid = seen.read_text().split()
    assert service == "orders"
    assert int(pid) != os.getpid()
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)  # waited for: gone, not a zombie left behind


def test_a_failed_preparation_ends_the_service_with_an_error_and_its_traceback(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    def broken(_service: str) -> None:
        raise RuntimeError("the database is not there")

    monkeypatch.setattr(cli, "prepare", broken)
    with pytest.raises(SystemExit) as stopped:
        cli.prepare_apart("store")
    assert stopped.value.code == 1
    assert "RuntimeError: the database is not there" in capfd.readouterr().err


@pytest.mark.parametrize(("exit_with", "code"), [(None, 0), (0, 0), (4, 4), ("no migrations here", 1)])
def test_a_preparation_that_exits_ends_as_sys_exit_would(
    monkeypatch: pytest.MonkeyPatch, exit_with: int | str | None, code: int
) -> None:
    def exits(_service: str) -> None:
        raise SystemExit(exit_with)

    monkeypatch.setattr(cli, "prepare", exits)
    if code == 0:
        cli.prepare_apart("cart")
        return
    with pytest.raises(SystemExit) as stopped:
        cli.prepare_apart("cart")
    assert stopped.value.code == code
