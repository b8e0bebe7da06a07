"""`musicstore up | serve SERVICE | traffic [OPTIONS] | db upgrade SERVICE`: run the Music Store."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import subprocess
import sys

import requests
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

from musicstore import local_config
from musicstore.common.embedded_pg import EmbeddedPostgres, free_port, port_is_free
from musicstore.common.settings import ConfigurationError, ServiceSettings
from musicstore.supervisor import Supervisor

WSGI = {name: f"musicstore.{name}.wsgi:app" for name in local_config.SERVICES}
SETTINGS = {"store": "StoreSettings", "orders": "OrderSettings", "cart": "CartSettings"}


def available_services() -> list[str]:
    """The services this installation has, in start order."""
    return [name for name in local_config.SERVICES if _has_module(f"musicstore.{name}.wsgi")]


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def service_settings(service: str, overrides: dict[str, str] | None = None) -> ServiceSettings:
    """A service's settings, read from the environment (values in `overrides` win)."""
    settings_class = getattr(importlib.import_module(f"musicstore.{service}.settings"), SETTINGS[service])
    settings: ServiceSettings = settings_class(**(overrides or {}))
    return settings


def prepare(service: str, overrides: dict[str, str] | None = None) -> None:
    """Apply a service's migrations (and, for the store, seed the demo catalog once)."""
    importlib.import_module(f"musicstore.{service}").prepare(service_settings(service, overrides))


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
    if not args.no_migrate:
        prepare(args.service)
    bind = args.bind or f"0.0.0.0:{local_config.serve_port(args.service)}"
    command = gunicorn_command(args.service, bind)
    os.execve(command[0], command, {**os.environ, **local_config.metrics_env(args.service)})
    return 0  # pragma: no cover - execve does not return


def _check_ports(services: list[str]) -> None:
    ports = {**{s: local_config.service_port(s) for s in services}, "traffic": local_config.traffic_port()}
    busy = [f"{name} ({port})" for name, port in ports.items() if not port_is_free(port)]
    if busy:
        raise SystemExit(
            f"port(s) already in use: {', '.join(busy)}. Stop what uses them, "
            "or choose others with STORE_PORT, ORDER_PORT, CART_PORT and TRAFFIC_PORT."
        )


def cmd_up(_args: argparse.Namespace) -> int:
    """Run the whole system on this machine until Ctrl-C."""
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="up      | %(message)s")
    logging.getLogger().handlers[0].addFilter(_QuietMigrations())
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    services = available_services()
    _check_ports(services)
    data = local_config.data_dir()
    found = local_config.load_secrets(data)
    sup = Supervisor()
    database: EmbeddedPostgres | None = None
    database_url = None
    try:
        if not local_config.external_database():
            port = local_config.wanted_db_port()
            if not port_is_free(port):
                port = free_port()
                sup.say("up", f"port {local_config.wanted_db_port()} is busy; PostgreSQL uses {port} instead")
            database = EmbeddedPostgres(data / "postgres", port=port, user="music_user", password=found.db_password)
            database.start(output=subprocess.PIPE)
            assert database.process is not None
            sup.adopt("postgres", database.process)
            database.create_database("music_store")
            database_url = database.url("music_store")
            sup.say("up", f"embedded PostgreSQL 18 on 127.0.0.1:{port} (data in {data / 'postgres'})")
        stack = local_config.local_env(data, found, database_url)
        sup.say("up", f"fault switches: {local_config.flag_file(data)} (the traffic UI's Faults tab)")
        for service in services:
            sup.say("up", f"preparing {service} (migrations{', demo catalog' if service == 'store' else ''})")
            prepare(service, stack)
        for service in services:
            bind = f"127.0.0.1:{local_config.service_port(service)}"
            service_env = {**stack, **local_config.metrics_env(service, data)}
            sup.start(service, gunicorn_command(service, bind), local_config.child_env(service_env))
        traffic_env = {**stack, **local_config.traffic_settings()}
        sup.start("traffic", traffic_command([]), local_config.child_env(traffic_env))
        if _wait_until_serving(sup, services):
            _banner(sup, services, found)
        sup.wait_for_stop_signal()
    finally:
        sup.stop_all()
        if database is not None:
            sup.say("up", "stopping PostgreSQL")
            database.stop()
    if sup.failed:
        sup.say("up", f"stopped because {sup.failed}")
        return 1
    sup.say("up", "stopped; bye")
    return 0


def _wait_until_serving(sup: Supervisor, services: list[str], timeout: float = 60.0) -> bool:
    """Wait (bounded) until every service answers /healthz; False when start-up failed meanwhile."""

    @retry(
        retry=retry_if_exception_type(requests.RequestException),
        stop=stop_after_delay(timeout),
        wait=wait_fixed(0.2),
        reraise=True,
    )
    def _check(url: str) -> None:
        if sup.stopping.is_set():
            return
        requests.get(url, timeout=2).raise_for_status()

    try:
        for service in services:
            _check(f"http://127.0.0.1:{local_config.service_port(service)}/healthz")
        _check(f"http://127.0.0.1:{local_config.traffic_port()}/")
    except requests.RequestException as exc:
        sup.say("up", f"a service did not start within {timeout:.0f}s: {exc}")
        sup.stopping.set()
    return not sup.stopping.is_set()


class _QuietMigrations(logging.Filter):
    """Keep Alembic's "Running upgrade" lines, drop its chatter about the database dialect."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(("Context impl", "Will assume"))


def _banner(sup: Supervisor, services: list[str], found: local_config.LocalSecrets) -> None:
    titles = {"store": "Store", "orders": "Orders dashboard", "cart": "Cart"}
    for service in services:
        sup.say("up", f"{titles[service]:<17} http://localhost:{local_config.service_port(service)}")
    sup.say(
        "up", f"{'Traffic generator':<17} http://localhost:{local_config.traffic_port()} (idle until you start a run)"
    )
    if found.admin_password_generated:
        sup.say(
            "up",
            f"admin log-in: user 'admin', password '{found.admin_password}' "
            "(generated; kept in var/secrets.json; set ADMIN_PASSWORD to choose your own)",
        )
    else:
        sup.say("up", "admin log-in: user 'admin' with the password from ADMIN_PASSWORD")
    sup.say("up", "press Ctrl-C to stop everything")


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
