"""The Music Store's user types and run hooks, as Locust loads them (`locust -f` this file).

User types: BrowserShopper, HttpShopper, WindowShopper, DeclinedCardShopper, Admin; their weights come from
`--weights` / TRAFFIC_WEIGHTS and can be changed in the web UI's class picker.
"""

from __future__ import annotations

import logging
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import STATE_STOPPED, MasterRunner, WorkerRunner

from musicstore.traffic import scenarios, service_map_ui, summary
from musicstore.traffic.admin import Admin
from musicstore.traffic.browser_shopper import BrowserShopper
from musicstore.traffic.faults import install as install_fault_switches
from musicstore.traffic.ledger import Ledger
from musicstore.traffic.options import RunConfig, add_arguments, weights_from
from musicstore.traffic.run import CURRENT
from musicstore.traffic.shoppers import DeclinedCardShopper, HttpShopper, WindowShopper
from musicstore.traffic.webui import RunForm, harden, loopback

__all__ = ["Admin", "BrowserShopper", "DeclinedCardShopper", "HttpShopper", "WindowShopper"]

log = logging.getLogger("musicstore.traffic")
USER_TYPES = {
    "browser": BrowserShopper,
    "http": HttpShopper,
    "window": WindowShopper,
    "declined": DeclinedCardShopper,
    "admin": Admin,
}
REPORT_KEY = "musicstore_journeys"


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    add_arguments(parser, CURRENT.settings, locust=True)


@events.init.add_listener
def _init(environment: Environment, **_: Any) -> None:
    """Apply the user mix; harden the web UI and add its service map; wire journey counts between workers and master."""
    for name, weight in weights_from(environment.parsed_options, CURRENT.settings).items():
        USER_TYPES[name].weight = weight
    config = RunConfig.from_options(environment.parsed_options, CURRENT.settings)
    environment.host = config.store_public
    if environment.web_ui is not None and environment.web_ui.app is not None:
        settings = CURRENT.settings
        web_host = str(getattr(environment.parsed_options, "web_host", "") or "")
        harden(
            environment.web_ui.app,
            user=settings.ADMIN_USER,
            password=settings.ADMIN_PASSWORD,
            need_login=settings.ui_needs_login or not loopback(web_host),  # open only on loopback, in local mode
            form=RunForm(frozenset(c.__name__ for c in USER_TYPES.values()), environment.host or ""),
        )
        # the UI's Faults tab, GET /faults and PUT /faults/<flag>
        install_fault_switches(environment.web_ui, settings.flags_file, read_only=settings.FLAGS_READ_ONLY)
        targets = {"store": config.store, "cart": config.cart, "orders": config.orders}
        service_map_ui.install(environment, settings, targets)  # the UI's Service map tab and /service-map.json
    if isinstance(environment.runner, WorkerRunner):
        environment.events.report_to_master.add_listener(_report_to_master)
    if isinstance(environment.runner, MasterRunner):
        environment.events.worker_report.add_listener(lambda client_id, data: _worker_report(environment, data))


@events.test_start.add_listener
def _test_start(environment: Environment, **_: Any) -> None:
    """A new run: the options as the master sent them, a fresh ledger, the browser cap."""
    options = environment.parsed_options
    CURRENT.config = RunConfig.from_options(options, CURRENT.settings)
    budget = int(getattr(options, "journeys", 0) or 0)
    if budget and isinstance(environment.runner, WorkerRunner):  # each worker runs its share of the budget
        budget = -(-budget // max(1, int(getattr(options, "expect_workers", 1) or 1)))
    CURRENT.ledger = Ledger(budget or None)
    CURRENT.ending = False
    CURRENT.browsers.resize(CURRENT.config.max_browsers)
    CURRENT.summary_path = str(getattr(options, "summary", "") or "")
    config = CURRENT.config
    CURRENT.scenario = scenarios.begin(options, CURRENT.settings, config)  # --scenario: a fault for the middle third
    log.info(
        "run against store %s, cart %s, orders %s; think time %g-%g s; at most %d browsers%s",
        config.store, config.cart, config.orders, config.think_min, config.think_max, config.max_browsers,
        f"; {budget} journeys" if budget else "",
    )  # fmt: skip


@events.test_stop.add_listener
def _test_stop(environment: Environment, **_: Any) -> None:
    CURRENT.browsers.stop_all()


@events.quitting.add_listener
def _quitting(environment: Environment, **_: Any) -> None:
    """Let journeys under way finish (the stop timeout), leave no browser behind, then report the run."""
    if environment.runner is not None and environment.runner.state != STATE_STOPPED:
        environment.runner.stop()  # users finish their journey or are interrupted, and quit their browsers
    CURRENT.browsers.stop_all()
    if isinstance(environment.runner, WorkerRunner):
        log.info("this worker ran %d journeys (%d failed)", CURRENT.ledger.started, CURRENT.ledger.failed())
        return
    if environment.runner is None:
        return
    scenario = scenarios.end(CURRENT.scenario, CURRENT.ledger) if CURRENT.scenario is not None else None
    code = _exit_code(environment)
    environment.process_exit_code = code
    body = summary.summary(CURRENT.ledger, environment.runner.stats, exit_code=code)
    if scenario is not None:
        body["scenario"] = scenario
    if CURRENT.summary_path:
        summary.write(CURRENT.summary_path, body)
    csv_prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if csv_prefix:
        summary.write_final_csv(environment, csv_prefix)
    if body["journeys"]:
        print("\n" + summary.table(body), flush=True)


def _exit_code(environment: Environment) -> int:
    """1 when a journey failed, a user crashed, or a headless run made no journey at all; else 0."""
    runner, ledger = environment.runner, CURRENT.ledger
    if CURRENT.scenario is not None:  # a scenario's status is its invariants' (journeys verified among them)
        return 0 if CURRENT.scenario.held and not (runner is not None and runner.exceptions) else 1
    if ledger.failed() or (runner is not None and runner.exceptions):
        return 1
    if getattr(environment.parsed_options, "headless", False) and not ledger.finished:
        log.error("no journey ran: see the messages above (credentials, browsers, targets)")
        return 1
    return 0


def _report_to_master(client_id: str, data: dict[str, Any]) -> None:
    data[REPORT_KEY] = CURRENT.ledger.take_unsent()


def _worker_report(environment: Environment, data: dict[str, Any]) -> None:
    """Add a worker's journeys; with a journey budget, end the run once the workers finished that many."""
    CURRENT.ledger.merge(data.get(REPORT_KEY) or {})
    budget, runner = CURRENT.ledger.budget, environment.runner
    finished = CURRENT.ledger.finished
    if budget and runner is not None and finished >= budget and not CURRENT.ending:
        CURRENT.ending = True
        log.info("%d journeys done: ending the run", finished)
        gevent.spawn(_end, runner)


def _end(runner: Any) -> None:
    """Stop the workers first (their journeys finish and their last reports arrive), then quit."""
    runner.stop()
    runner.quit()
