"""`musicstore traffic [OPTIONS]`: Locust with the Music Store's user types, options and defaults.

Every Locust option works as documented (`--headless`, `--users`, `--spawn-rate`, `--run-time`, `--csv`,
`--master`, `--worker`, `--master-host`, ...); ours are listed under "Music Store" in `--help`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from musicstore.common.settings import ConfigurationError
from musicstore.traffic.options import add_arguments, scenario_named, weights_from
from musicstore.traffic.settings import TrafficSettings

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def locust_defaults(settings: TrafficSettings) -> list[str]:
    """Locust options we set unless the command line sets them (the last one given wins)."""
    return [
        "-f",
        str(LOCUSTFILE),
        "--web-host",
        settings.bind_host,
        "--web-port",
        str(settings.TRAFFIC_PORT),
        "--stop-timeout",
        f"{settings.TRAFFIC_STOP_TIMEOUT:g}",
        "--class-picker",
    ]


def our_parser(settings: TrafficSettings) -> argparse.ArgumentParser:
    """Our options (Locust's own come on top), for the checks before Locust starts and for --help."""
    parser = argparse.ArgumentParser(
        prog="musicstore traffic",
        add_help=False,
        description="The Music Store's traffic generator: Locust with our user types, each journey verified.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            f"Defaults we give Locust: --web-host {settings.bind_host} --web-port {settings.TRAFFIC_PORT} "
            f"--stop-timeout {settings.TRAFFIC_STOP_TIMEOUT:g} --class-picker\n"
            "User types, as --weights names them: browser (BrowserShopper), http (HttpShopper),\n"
            "window (WindowShopper), declined (DeclinedCardShopper), admin (Admin).\n"
            "A type not named keeps its default weight; 0 leaves it out.\n"
            "Example: musicstore traffic --headless --users 6 --journeys 100 --summary run.json\n"
            "A scenario (a fault for the middle third, then the checks):\n"
            "  musicstore traffic --headless --scenario orders-down --users 4 --run-time 30s --summary run.json"
        ),
    )
    add_arguments(parser, settings, locust=False)
    return parser


def check(argv: list[str], settings: TrafficSettings) -> None:
    """Refuse to start without what the run needs: its targets, the service token, the admin's password."""
    parser = our_parser(settings)
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--headless", action="store_true")
    parser.add_argument("-u", "--users", type=int)
    parser.add_argument("-t", "--run-time")
    parser.add_argument("--master", action="store_true")
    known, _ = parser.parse_known_args(argv)
    if known.worker:
        return settings.require(worker=True)
    if known.journeys < 0:
        raise ConfigurationError("--journeys takes a number of journeys, or 0 for no limit")
    if known.headless and known.users is not None and known.users < 1:
        raise ConfigurationError("a headless run needs --users 1 or more")
    weights = weights_from(known, settings)
    if known.scenario:
        check_scenario(known, weights)
    given = settings.model_copy(
        update={
            "STORE_SERVICE_URL": known.store_url,
            "CART_SERVICE_URL": known.cart_url,
            "ORDER_SERVICE_URL": known.orders_url,
        }
    )
    given.require(weights)
    for url in (known.store_url, known.cart_url, known.orders_url):
        if not str(url).startswith(("http://", "https://")):
            raise ConfigurationError(f"not a target URL: {url!r} (give http://host:port)")


def check_scenario(known: argparse.Namespace, weights: dict[str, int]) -> None:
    """A scenario runs headless, for a set time, on one process, without browser shoppers or the admin."""
    scenario_named(known.scenario)
    if not known.headless:
        raise ConfigurationError("a scenario runs headless: add --headless")
    if not known.run_time:
        raise ConfigurationError("a scenario needs --run-time (e.g. 30s): its fault is on for the middle third")
    if known.master:
        raise ConfigurationError("a scenario runs on one process: leave out --master")
    if weights.get("browser") or weights.get("admin"):
        raise ConfigurationError(
            "a scenario leaves out the browser shopper (a browser cannot see a fault's mark) and the admin "
            "(who changes the stock it checks): give browser=0 and admin=0 in --weights"
        )


def print_help(settings: TrafficSettings) -> None:
    """Our options first, then Locust's."""
    our_parser(settings).print_help()
    from locust.argument_parser import get_parser

    print("\nLocust's own options, all of which work here:\n")
    get_parser(default_config_files=[]).print_help()


def settings_problem(exc: ValidationError) -> str:
    """A settings error as one line per setting."""
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def main(argv: list[str] | None = None) -> int:
    """Check the settings, then hand over to Locust (which exits with the run's status)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        settings = TrafficSettings()
        if {"-h", "--help"} & set(argv):
            print_help(settings)
            return 0
        if not {"-V", "--version"} & set(argv):
            check(argv, settings)
    except ValidationError as exc:
        print(f"musicstore traffic: {settings_problem(exc)}", file=sys.stderr)
        return 2
    except (ConfigurationError, ValueError) as exc:
        print(f"musicstore traffic: {exc}", file=sys.stderr)
        return 2
    from locust.main import main as locust_main

    sys.argv = ["musicstore traffic", *locust_defaults(settings), *argv]
    locust_main()
    return 0
