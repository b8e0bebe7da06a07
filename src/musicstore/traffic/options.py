"""The run options of the traffic generator: Locust's own, plus ours, with defaults from the environment.

Ours are Locust custom arguments, so the master sends them to its workers with every spawn: the targets,
the think time, the browser limits and the journey budget reach the workers. Secrets never travel this
way: each process reads SERVICE_TOKEN and ADMIN_PASSWORD from its own environment.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from musicstore.traffic.settings import TrafficSettings, parse_host_map, parse_weights

# (flag, settings field, type, help, shown in the web UI)
OPTIONS: list[tuple[str, str, type, str, bool]] = [
    ("--store-url", "STORE_SERVICE_URL", str, "the store's URL", False),
    ("--cart-url", "CART_SERVICE_URL", str, "the cart's URL", False),
    ("--orders-url", "ORDER_SERVICE_URL", str, "the order service's URL", False),
    ("--store-public-url", "STORE_PUBLIC_URL", str, "the store's URL for the browser", False),
    ("--cart-public-url", "CART_PUBLIC_URL", str, "the cart's URL for the browser", False),
    ("--orders-public-url", "ORDER_PUBLIC_URL", str, "the order service's URL for the browser", False),
    ("--think-min", "TRAFFIC_THINK_MIN", float, "shortest think time between journeys (s)", True),
    ("--think-max", "TRAFFIC_THINK_MAX", float, "longest think time between journeys (s)", True),
    ("--max-browsers", "TRAFFIC_MAX_BROWSERS", int, "live browsers at most per process", True),
    ("--browser-journeys", "TRAFFIC_BROWSER_JOURNEYS", int, "journeys before a browser is recycled", True),
    ("--request-timeout", "TRAFFIC_REQUEST_TIMEOUT", float, "timeout of each request (s)", False),
    ("--weights", "TRAFFIC_WEIGHTS", str, "user mix, e.g. browser=1,http=3,window=2,declined=1,admin=1", False),
]


def add_arguments(parser: Any, settings: TrafficSettings, *, locust: bool) -> None:
    """Add our options to a parser (Locust's, which can show them in its UI, or a plain argparse one)."""
    group = parser.add_argument_group("Music Store") if not locust else parser
    for flag, field, kind, text, in_ui in OPTIONS:
        extra = {"include_in_web_ui": in_ui} if locust else {}
        group.add_argument(flag, type=kind, default=getattr(settings, field), help=text, **extra)
    extra = {"include_in_web_ui": False} if locust else {}
    group.add_argument("--journeys", type=int, default=0, help="stop after this many journeys (0: no limit)", **extra)
    group.add_argument("--summary", default="", help="write a JSON summary of the run to this file", **extra)
    group.add_argument(
        "--scenario", default="", help="switch a fault on for the middle third of a headless run and check what "
        "must hold through it: orders-down, slow-store, payment-failures (the exit status is the checks')", **extra,
    )  # fmt: skip
    group.add_argument(
        "--faults-url", default="", help="switch the scenario's fault through the generator's web UI at this URL "
        "(PUT /faults/<flag>) instead of writing FLAGS_FILE", **extra,
    )  # fmt: skip


@dataclass(frozen=True)
class RunConfig:
    """What every simulated user of a run reads."""

    store: str
    cart: str
    orders: str
    store_public: str
    cart_public: str
    orders_public: str
    service_token: str
    admin_user: str
    admin_password: str
    think_min: float
    think_max: float
    max_browsers: int
    browser_journeys: int
    request_timeout: float
    chromium: str
    chromedriver: str
    browser_hosts: tuple[tuple[str, str], ...] = ()
    chromium_sandbox: bool = True

    @classmethod
    def from_options(cls, options: argparse.Namespace | None, settings: TrafficSettings) -> RunConfig:
        """The run's options (as the master sent them) with this process's secrets."""

        def pick(name: str, field: str) -> Any:
            value = getattr(options, name, None) if options is not None else None
            return getattr(settings, field) if value in (None, "") else value

        store, cart, orders = (
            pick(n, f)
            for n, f in (
                ("store_url", "STORE_SERVICE_URL"),
                ("cart_url", "CART_SERVICE_URL"),
                ("orders_url", "ORDER_SERVICE_URL"),
            )
        )
        return cls(
            store=str(store).rstrip("/"),
            cart=str(cart).rstrip("/"),
            orders=str(orders).rstrip("/"),
            store_public=str(pick("store_public_url", "STORE_PUBLIC_URL") or store).rstrip("/"),
            cart_public=str(pick("cart_public_url", "CART_PUBLIC_URL") or cart).rstrip("/"),
            orders_public=str(pick("orders_public_url", "ORDER_PUBLIC_URL") or orders).rstrip("/"),
            service_token=settings.SERVICE_TOKEN,
            admin_user=settings.ADMIN_USER,
            admin_password=settings.ADMIN_PASSWORD,
            think_min=float(pick("think_min", "TRAFFIC_THINK_MIN")),
            think_max=max(float(pick("think_min", "TRAFFIC_THINK_MIN")), float(pick("think_max", "TRAFFIC_THINK_MAX"))),
            max_browsers=int(pick("max_browsers", "TRAFFIC_MAX_BROWSERS")),
            browser_journeys=max(1, int(pick("browser_journeys", "TRAFFIC_BROWSER_JOURNEYS"))),
            request_timeout=float(pick("request_timeout", "TRAFFIC_REQUEST_TIMEOUT")),
            chromium=settings.CHROMIUM_PATH,
            chromedriver=settings.CHROMEDRIVER_PATH,
            browser_hosts=tuple(parse_host_map(settings.TRAFFIC_BROWSER_HOSTS).items()),
            chromium_sandbox=settings.TRAFFIC_CHROMIUM_SANDBOX,
        )


@dataclass(frozen=True)
class Scenario:
    """One fault, switched on for the middle third of a run."""

    name: str
    flag: str
    value: bool | float
    description: str


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("orders-down", "ordersUnavailable", True, "the order service refuses new orders (503)"),
        Scenario("slow-store", "storeApiLatencyMs", 400, "the store's API answers 400 ms later"),
        Scenario("payment-failures", "paymentFailure", 0.3, "30% of payments are declined"),
    )
}


def scenario_named(name: str) -> Scenario:
    """The scenario of this name, or ValueError naming those there are."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"no scenario {name!r}; choose from {', '.join(SCENARIOS)}") from None


# A scenario's mix unless one is named: no browser shopper (a browser cannot see a fault's mark), no admin (who
# changes the stock a scenario checks).
SCENARIO_WEIGHTS = "browser=0,http=3,window=1,declined=1,admin=0"


def weights_from(options: argparse.Namespace | None, settings: TrafficSettings) -> dict[str, int]:
    """The user mix the options name (TRAFFIC_WEIGHTS when they name none; a scenario's own mix for a scenario)."""
    named = str(getattr(options, "weights", "") or settings.TRAFFIC_WEIGHTS)
    return parse_weights(named or (SCENARIO_WEIGHTS if getattr(options, "scenario", "") else ""))
