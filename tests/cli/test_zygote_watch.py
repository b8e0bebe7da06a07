"""The services' parent under `musicstore up` once they are forked (musicstore.zygote_watch): small, and it stops the
services together."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from musicstore import zygote_watch

ZYGOTE_MODULES = ("json", "tempfile", "shutil", "pathlib", "traceback", "contextlib")
# A process that forks two "services" and becomes the watcher, as musicstore.zygote does: one exits with 3 at once,
# the other waits for a signal (SIGTERM ends it).
FORK_AND_WATCH = """
import os, signal, sys
from musicstore import zygote_watch
signal.pthread_sigmask(signal.SIG_BLOCK, zygote_watch.STOP_SIGNALS)
failing = os.fork()
if failing == 0:
    os._exit(3)
waiting = os.fork()
if waiting == 0:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, zygote_watch.STOP_SIGNALS)
    signal.pause()
    os._exit(0)
os.environ[zygote_watch.CHILDREN_VARIABLE] = zygote_watch.encode_children({failing: "store", waiting: "cart"})
os.environ[zygote_watch.SCRATCH_VARIABLE] = sys.argv[1]
os.execv(sys.executable, [sys.executable, "-m", "musicstore.zygote_watch"])
"""


def test_a_service_that_exits_stops_the_others_and_the_watcher_exits_with_its_code(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "counter_1.db").write_bytes(b"")
    done = subprocess.run([sys.executable, "-c", FORK_AND_WATCH, str(scratch)], capture_output=True, text=True,
                          timeout=30, check=False)  # fmt: skip
    assert done.returncode == 3
    assert "store exited with code 3; stopping the other services" in done.stdout
    assert not scratch.exists()


def test_the_watcher_imports_none_of_the_zygotes_modules() -> None:
    loaded = subprocess.run([sys.executable, "-c", "import musicstore.zygote_watch, sys; print(*sys.modules)"],
                            capture_output=True, text=True, timeout=30, check=True).stdout.split()  # fmt: skip
    assert [name for name in ZYGOTE_MODULES if name in loaded] == []


def test_the_services_are_handed_to_the_watcher_by_pid_and_name() -> None:
    children = {101: "store", 102: "orders", 103: "cart"}
    assert zygote_watch.decode_children(zygote_watch.encode_children(children)) == children
