"""`musicstore up | serve SERVICE | traffic [OPTIONS] | db upgrade SERVICE`: run the Music Store."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import signal
import sys
import traceback
from pathlib import Path

from musicstore import local_config
from musicstore.common.embedded_pg import IDLE_SESSION_SECONDS, EmbeddedPostgres, free_port, pg_bin, port_is_free
from musicstore.common.metric_files import MULTIPROC_DIR
from musicstore.common.settings import ConfigurationError, ServiceSettings
from musicstore.supervisor import PLAN_VARIABLE, Supervisor

WSGI = {name: f"musicstore.{name}.wsgi:app" for name in local_config.SERVICES}
SETTINGS = {"store": "StoreSettings", "orders": "OrderSettings", "cart": "CartSettings"}
ZYGOTE_PLAN = "MUSICSTORE_ZYGOTE_PLAN"  # musicstore.zygote.PLAN_VARIABLE, without importing it
log = logging.getLogger("musicstore.cli")


def available_services() -> list[str]:
    """The services this installation has, in start order."""
    return [name for name in local_config.SERVICES if _has_wsgi(name)]


def _has_wsgi(service: str) -> bool:
    """Whether the service's package has its WSGI module, found without importing the package (looking up
    `musicstore.store.wsgi` itself would import all of `musicstore.store`: a second of `up`'s start-up)."""
    spec = importlib.util.find_spec(f"musicstore.{service}")
    folders = (spec.submodule_search_locations or []) if spec else []
    return any((Path(folder) / "wsgi.py").is_file() for folder in folders)


def service_settings(service: str, overrides: dict[str, str] | None = None) -> ServiceSettings:
    """A service's settings, read from the environment (values in `overrides` win)."""
    settings_class = getattr(importlib.import_module(f"musicstore.{service}.settings"), SETTINGS[service])
    settings: ServiceSettings = settings_class(**(overrides or {}))
    return settings


def prepare(service: str, overrides: dict[str, str] | None = None) -> None:
    """Apply a service's migrations (and, for the store, seed the demo catalog once)."""
    importlib.import_module(f"musicstore.{service}").prepare(service_settings(service, overrides))


def prepare_apart(service: str) -> None:
    """Prepare a service (`prepare`) in a child process that exits when done, and wait for it.

    The preparation (the database check, migrations, the store's demo catalog with an ORM session and Pillow)
    writes 5-20 MB of memory nothing serving needs again. Done in this process, gunicorn's master, which runs
    here next, would keep it, and so would every worker forked from it. A stop signal meanwhile is passed on
    to the child; a failure (printed by the child) ends this process with the child's exit code."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os._exit(_prepare_in_child(service))
    stops = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.signal(sig, lambda sig, _frame: os.kill(pid, sig)) for sig in stops}
    try:
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if -code in stops:
        signal.raise_signal(-code)  # stopped while preparing: this process stops the same way
    if code != 0:
        raise SystemExit(code)


def _prepare_in_child(service: str) -> int:
    """The child's part of prepare_apart: its exit code (it leaves by os._exit: nothing of its parent's runs)."""
    code = 1
    try:
        prepare(service)
        code = 0
    except SystemExit as exc:  # as sys.exit would end it: None is success, a message is printed and fails
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stdout.flush()
        sys.stderr.flush()
    return code


def gunicorn_command(service: str, bind: str) -> list[str]:
    """The gunicorn command line that serves one service."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        bind,
        "--name",
        f"musicstore-{service}",
        *local_config.gunicorn_options(),
        WSGI[service],
    ]


def traffic_command(argv: list[str]) -> list[str]:
    """The command line of the traffic generator (its own process: Locust patches the standard library)."""
    return [sys.executable, "-m", "musicstore.traffic", *argv]


def cmd_traffic(argv: list[str]) -> int:
    """Run the traffic generator with Locust's options and ours (`musicstore traffic --help`)."""
    command = traffic_command(argv)
    os.execve(command[0], command, local_config.traffic_env())
    return 0  # pragma: no cover - execve does not return


def cmd_serve(args: argparse.Namespace) -> int:
    """Run one service in the foreground (what a container runs)."""
    if args.service == "traffic":
        host, _, port = (args.bind or "").rpartition(":")
        return cmd_traffic(["--web-host", host, "--web-port", port] if args.bind else [])
    if args.service not in available_services():
        raise SystemExit(f"unknown service {args.service!r}; choose from {', '.join(available_services())}")
    try:
        service_settings(args.service).require_secrets()
    except ConfigurationError as exc:
        raise SystemExit(f"musicstore serve {args.service}: {exc}") from None
    # Set before prometheus-client is first imported (with the service's code below): it reads it only then.
    metrics_given = MULTIPROC_DIR in os.environ
    os.environ.update(local_config.metrics_env(args.service))
    if not args.no_migrate:
        from musicstore.common.logs import configure_logging

        settings = service_settings(args.service)
        configure_logging(args.service, settings.LOG_FORMAT, settings.LOG_LEVEL)
        logging.getLogger().handlers[0].addFilter(_QuietMigrations())
        log.info("preparing %s (migrations%s)", args.service, ", demo catalog" if args.service == "store" else "")
        prepare_apart(args.service)
    bind = args.bind or f"0.0.0.0:{local_config.serve_port(args.service)}"
    command = gunicorn_command(args.service, bind)
    if metrics_given:
        # gunicorn runs in this process, which imported the service's code to prepare it, instead of a new
        # interpreter importing it all again (a second or two per service). Without PROMETHEUS_MULTIPROC_DIR
        # given, metrics_env imported prometheus-client before the directory it makes was set: a new process.
        _run_gunicorn(command[3:])
    os.execve(command[0], command, dict(os.environ))
    return 0  # pragma: no cover - execve does not return


def _run_gunicorn(options: list[str]) -> None:
    """gunicorn with these command-line options, in this process; it exits when gunicorn stops."""
    from gunicorn.app.wsgiapp import run

    sys.argv = ["gunicorn", *options]
    run(prog="gunicorn")
    raise SystemExit(0)  # pragma: no cover - gunicorn exits itself


def _check_ports(services: list[str]) -> None:
    ports = {**{s: local_config.service_port(s) for s in services}, "traffic": local_config.traffic_port()}
    busy = [f"{name} ({port})" for name, port in ports.items() if not port_is_free(port)]
    if busy:
        raise SystemExit(
            f"port(s) already in use: {', '.join(busy)}. Stop what uses them, "
            "or choose others with STORE_PORT, ORDER_PORT, CART_PORT and TRAFFIC_PORT."
        )


def cmd_up(_args: argparse.Namespace) -> int:
    """Run the whole system on this machine until Ctrl-C.

    This process works the stack out (ports, secrets, PostgreSQL's data directory, each child's command and
    environment), then replaces itself with the light supervisor (musicstore.supervisor), which starts and
    watches the children and holds none of the services' code: each service prepares itself (`serve`).
    """
    services = available_services()
    _check_ports(services)
    data = local_config.data_dir()
    found = local_config.load_secrets(data)
    say = Supervisor().say
    postgres: dict[str, object] | None = None
    database_url = None
    if not local_config.external_database():
        port = local_config.wanted_db_port()
        if not port_is_free(port):
            port = free_port()
            say("up", f"port {local_config.wanted_db_port()} is busy; PostgreSQL uses {port} instead")
        database = EmbeddedPostgres(
            data / "postgres", port=port, user="music_user", password=found.db_password,
            idle_session_seconds=IDLE_SESSION_SECONDS,
        )  # fmt: skip
        database.prepare_data()  # initialised on the first start
        database_url = database.url("music_store")
        postgres = {
            "args": database.server_args(), "run_as": database.run_as, "bin": str(pg_bin("psql").parent),
            "port": port, "user": database.user, "password": database.password, "database": "music_store",
            "message": f"embedded PostgreSQL 18 on 127.0.0.1:{port} (data in {data / 'postgres'})",
        }  # fmt: skip
    stack = local_config.local_env(data, found, database_url)
    say("up", f"fault switches: {local_config.flag_file(data)} (the traffic UI's Faults tab)")
    # One process imports the services' code once and forks each service from it (musicstore.zygote): they
    # share those pages, and the imports are paid once. Each service's lines still come under its own name.
    zygote_plan = [
        {
            "name": service,
            "bind": f"127.0.0.1:{local_config.service_port(service)}",
            "env": local_config.metrics_env(service, data),
        }
        for service in services
    ]
    children: list[dict[str, object]] = [
        {
            "name": "services",
            "args": [sys.executable, "-m", "musicstore.zygote"],
            "env": {**stack, ZYGOTE_PLAN: json.dumps(zygote_plan)},
            "outputs": services,
        }
    ]
    # The traffic generator (Locust and gevent: seconds of imports) starts once the services answer: it has
    # nothing to do before, and started with them it would take half of a 2-core machine's CPU from their start.
    traffic_env = {**stack, **local_config.traffic_settings()}
    children.append({"name": "traffic", "args": traffic_command([]), "env": traffic_env, "after_ready": True})
    ready = [(s, f"http://127.0.0.1:{local_config.service_port(s)}/healthz") for s in services]
    ready.append(("traffic", f"http://127.0.0.1:{local_config.traffic_port()}/"))
    plan = {"postgres": postgres, "children": children, "ready": ready, "banner": _banner(services, found)}
    command = [sys.executable, "-m", "musicstore.supervisor"]
    os.execve(command[0], command, {**os.environ, PLAN_VARIABLE: json.dumps(plan)})
    return 0  # pragma: no cover - execve does not return


class _QuietMigrations(logging.Filter):
    """Keep Alembic's "Running upgrade" lines, drop its chatter about the database dialect."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(("Context impl", "Will assume"))


def _banner(services: list[str], found: local_config.LocalSecrets) -> list[str]:
    """What `up` says once everything answers: the addresses, the admin's log-in, how to stop."""
    titles = {"store": "Store", "orders": "Orders dashboard", "cart": "Cart"}
    lines = [f"{titles[service]:<17} http://localhost:{local_config.service_port(service)}" for service in services]
    lines.append(
        f"{'Traffic generator':<17} http://localhost:{local_config.traffic_port()} (idle until you start a run)"
    )
    if found.admin_password_generated:
        lines.append(
            f"admin log-in: user 'admin', password '{found.admin_password}' "
            "(generated; kept in var/secrets.json; set ADMIN_PASSWORD to choose your own)"
        )
    else:
        lines.append("admin log-in: user 'admin' with the password from ADMIN_PASSWORD")
    lines.append("press Ctrl-C to stop everything")
    return lines


def cmd_db(args: argparse.Namespace) -> int:
    """Apply migrations (and seed the store) against the configured databases."""
    prepare(args.service)
    return 0


def parser() -> argparse.ArgumentParser:
    """The command line."""
    top = argparse.ArgumentParser(prog="musicstore", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="run the whole system locally (embedded PostgreSQL unless DB_HOST/DATABASE_URL)")
    serve = sub.add_parser("serve", help="run one service under gunicorn (traffic: the generator's web UI)")
    serve.add_argument("service", choices=[*local_config.SERVICES, "traffic"])
    serve.add_argument("--bind", help="address:port (default 0.0.0.0:PORT)")
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations at start-up")
    sub.add_parser(
        "traffic", add_help=False, help="the traffic generator (Locust); `musicstore traffic --help` lists its options"
    )
    db = sub.add_parser("db", help="database tasks")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply migrations (the store also seeds its demo catalog once)")
    upgrade.add_argument("service", choices=list(local_config.SERVICES))
    return top


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `musicstore` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["traffic"]:
        return cmd_traffic(argv[1:])
    args = parser().parse_args(argv)
    handlers = {"up": cmd_up, "serve": cmd_serve, "db": cmd_db}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
