"""The services' parent under `musicstore up` once they are forked: musicstore.zygote replaces its image with this.

It only waits for the services: it forwards SIGTERM and SIGINT to them; when one exits on its own, it stops the
others and exits with that service's code (the supervisor then stops the stack). It lives as long as the stack, so
it imports what the interpreter has loaded already and signal: the zygote's modules (json, tempfile, shutil,
traceback, pathlib) were 3-4 MB of this process's private memory for nothing it does.
"""

from __future__ import annotations

import os
import signal
import sys

CHILDREN_VARIABLE = "MUSICSTORE_ZYGOTE_CHILDREN"  # the services it forked: pid=name,pid=name
SCRATCH_VARIABLE = "MUSICSTORE_ZYGOTE_SCRATCH"  # the zygote's own metric files' folder, removed at the end
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def encode_children(children: dict[int, str]) -> str:
    """The services as CHILDREN_VARIABLE holds them (service names are words: no comma or equals sign)."""
    return ",".join(f"{pid}={name}" for pid, name in children.items())


def decode_children(text: str) -> dict[int, str]:
    """The services CHILDREN_VARIABLE holds."""
    pairs = (item.split("=", 1) for item in text.split(",") if item)
    return {int(pid): name for pid, name in pairs}


def watch(children: dict[int, str]) -> int:
    """Wait for the services; a stop signal is passed on to them, and one exiting on its own stops the others."""
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            _signal(pid, signal.SIGTERM)

    for sig in STOP_SIGNALS:
        signal.signal(sig, stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    result = 0
    while children:
        pid, status = os.wait()
        name = children.pop(pid, None)
        if name is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        if not stopping:
            print(f"{name} exited with code {code}; stopping the other services", flush=True)
            result = code if code > 0 else 1  # killed by a signal (negative) or failed without a code
            stop()
    return result


def _signal(pid: int, sig: int) -> None:
    try:  # noqa: SIM105 - contextlib and what it imports would be this process's largest import
        os.kill(pid, sig)
    except ProcessLookupError:  # already gone: os.wait reports it
        pass


def remove_folder(path: str) -> None:
    """Remove a folder of files (the metric files prometheus-client wrote there); what cannot go stays."""
    try:
        for entry in os.scandir(path):
            os.unlink(entry.path)
        os.rmdir(path)
    except OSError:
        pass


def main() -> int:
    """Wait for the services the zygote forked before it replaced its image with this one."""
    children = decode_children(os.environ.pop(CHILDREN_VARIABLE))
    try:
        return watch(children)
    finally:
        remove_folder(os.environ.pop(SCRATCH_VARIABLE))


if __name__ == "__main__":
    sys.exit(main())
