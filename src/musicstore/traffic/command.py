"""`musicstore traffic [OPTIONS]`: Locust with the Music Store's user types, options and defaults.

Every Locust option works as documented (`--headless`, `--users`, `--spawn-rate`, `--run-time`, `--csv`,
`--master`, `--worker`, `--master-host`, ...); ours are listed under "Music Store" in `--help`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from musicstore.common.settings import ConfigurationError
from musicstore.traffic.options import add_arguments, weights_from
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


def check(argv: list[str], settings: TrafficSettings) -> None:
    """Refuse to start without what the run needs: its targets, the service token, the admin's password."""
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser, settings, locust=False)
    parser.add_argument("--worker", action="store_true")
    known, _ = parser.parse_known_args(argv)
    if known.worker:
        return settings.require(worker=True)
    weights = weights_from(known, settings)
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


def main(argv: list[str] | None = None) -> int:
    """Check the settings, then hand over to Locust (which exits with the run's status)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        settings = TrafficSettings()
        if not {"-h", "--help", "-V", "--version"} & set(argv):
            check(argv, settings)
    except (ConfigurationError, ValueError) as exc:
        print(f"musicstore traffic: {exc}", file=sys.stderr)
        return 2
    from locust.main import main as locust_main

    sys.argv = ["musicstore traffic", *locust_defaults(settings), *argv]
    locust_main()
    return 0
