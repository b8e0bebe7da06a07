"""`musicstore up`'s services, forked from one process that imported their code and libraries once.

Each service is a gunicorn master with its workers, and each imports the same libraries (Flask, SQLAlchemy,
pydantic, the OpenFeature flagd provider with gRPC, OpenTelemetry, prometheus-client): about 95 MB of code and
data per service when each starts as its own interpreter. Under `up`, the supervisor starts this process once
instead (`python -m musicstore.zygote`, the plan in MUSICSTORE_ZYGOTE_PLAN): it imports all of it, freezes it
out of the garbage collector's reach, and forks one child per service, which then runs `musicstore serve
SERVICE` in its own process (migrations, then gunicorn in-process, whose master forks the workers). Every
service's processes share those pages, and the imports are paid once at start-up, not once per service.

Each child writes to its own pipe (the supervisor hands them over, MUSICSTORE_OUTPUT_FDS), so its lines are
prefixed with its name as before. Once they are forked, this process replaces its image with a small watcher
(musicstore.zygote_watch, the same pid, still their parent): it forwards SIGTERM and SIGINT to the services and
waits for them; when one service exits on its own, it stops the others and exits with that service's code (the
supervisor then stops the stack, as when a service of its own exits). Containers run one service each
(`musicstore serve`): there is nothing to share there.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import shutil
import signal
import sys
import tempfile
import traceback
from typing import Any, NoReturn

from musicstore.common.metric_files import MULTIPROC_DIR
from musicstore.zygote_watch import CHILDREN_VARIABLE, SCRATCH_VARIABLE, STOP_SIGNALS, encode_children

PLAN_VARIABLE = "MUSICSTORE_ZYGOTE_PLAN"
OUTPUTS_VARIABLE = "MUSICSTORE_OUTPUT_FDS"

# What every service's process imports sooner or later: its app's modules (which import the libraries), and
# what create_app, gunicorn and the first requests import later. A module missing here is imported by the
# service itself, as before: it costs memory, not correctness.
PRELOAD = [
    "musicstore.cli",
    "musicstore.gunicorn_config",
    "musicstore.common.worker",
    "musicstore.common.access_log",
    "gunicorn.app.wsgiapp",
    "gunicorn.arbiter",
    "gunicorn.workers.gthread",
    "musicstore.store",
    "musicstore.orders",
    "musicstore.cart",
    "musicstore.store.settings",
    "musicstore.orders.settings",
    "musicstore.cart.settings",
    "psycopg",  # the store's driver; SQLAlchemy imports its dialects when an engine is made
    "sqlalchemy.dialects.postgresql.psycopg",
    "sqlalchemy.dialects.sqlite.pysqlite",
]


def preload(names: list[str]) -> None:
    """Import these modules (those this installation lacks are skipped: it may hold only some services)."""
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not name.startswith(exc.name or "\0"):
                raise  # a library a module needs is missing: as loud as it would be in the service


def serve(service: dict[str, Any], outputs: dict[str, int]) -> NoReturn:
    """In a forked child: become `musicstore serve SERVICE` with the service's environment; never returns.

    It ends as that command would, by SystemExit through the interpreter's own exit (atexit handlers run: the
    tracing SDK flushes its last spans), in the service's master and in each of its workers alike."""
    try:
        output = outputs.get(service["name"])
        if output is not None:
            os.dup2(output, 1)
            os.dup2(output, 2)
        for fd in outputs.values():
            os.close(fd)  # the other services' pipes end with their own processes, not with this one
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        os.environ.update(service["env"])
        from musicstore import cli, local_config

        local_config.settings.cache_clear()  # read again, with this service's environment
        code = cli.main(["serve", service["name"], "--bind", service["bind"]])
    except SystemExit:
        raise
    except BaseException:  # whatever it is, it is printed and the child exits with 1
        traceback.print_exc()
        code = 1
    raise SystemExit(code)


def fork_services(services: list[dict[str, Any]], outputs: dict[str, int]) -> dict[int, str]:
    """Fork a child per service (stop signals held meanwhile, so none is lost or inherited); their pids."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    sys.stdout.flush()
    sys.stderr.flush()
    children: dict[int, str] = {}
    for service in services:
        pid = os.fork()
        if pid == 0:
            serve(service, outputs)
        children[pid] = service["name"]
    for fd in outputs.values():
        os.close(fd)  # the children hold them; the supervisor sees a pipe's end when its service is gone
    return children


def main() -> int:
    """Import the services' code once, fork one child per service in the plan, and wait for them."""
    services: list[dict[str, Any]] = json.loads(os.environ.pop(PLAN_VARIABLE))
    outputs: dict[str, int] = json.loads(os.environ.pop(OUTPUTS_VARIABLE, "{}"))
    # prometheus-client picks its multiprocess mode when first imported, from this variable, and each child
    # then writes its files where its own environment says. Anything counted before a fork lands here.
    scratch = tempfile.mkdtemp(prefix="musicstore-zygote-metrics-")
    os.environ[MULTIPROC_DIR] = scratch
    parent = os.getpid()
    try:
        preload(PRELOAD)
        gc.collect()
        gc.freeze()  # what is imported now stays shared: no collection in a child rewrites it
        children = fork_services(services, outputs)
    except BaseException:
        if os.getpid() == parent:  # a service's exit passes through here too, in its own process
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    become_watcher(children, scratch)
    return 1  # pragma: no cover - become_watcher does not return


def become_watcher(children: dict[int, str], scratch: str) -> None:
    """Replace this process's image with a small one that only watches the services (musicstore.zygote_watch).

    The services keep what they share with this process; this process's own copy of it (the pages every one of
    them has written to since the fork, 20-30 MB) goes. Its pid, its children and its blocked stop signals stay
    (a signal sent meanwhile waits for the watcher), and so does its output, the supervisor's pipe."""
    sys.stdout.flush()
    sys.stderr.flush()
    env = {**os.environ, CHILDREN_VARIABLE: encode_children(children), SCRATCH_VARIABLE: scratch}
    os.execve(sys.executable, [sys.executable, "-m", "musicstore.zygote_watch"], env)


if __name__ == "__main__":
    sys.exit(main())
