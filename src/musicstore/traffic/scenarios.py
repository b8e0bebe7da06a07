"""Scenario mode: `musicstore traffic --headless --scenario NAME --run-time 30s ...` switches one fault on for the
middle third of the run and checks what must hold through it; the run's exit status is those checks'.

What must hold (each is reported, with what was found):
- the fault took effect: journeys met answers marked with its flag (X-Fault-Injected);
- every journey verified: a journey that met the fault is verified (fault) only when no order was made unless
  one was answered, and the cart was kept (musicstore.traffic.shoppers); any other failure counts here;
- no order lost or made twice: once the checkouts answered "pending" are settled, every checkout key has at most
  one order, every order of the run's shoppers was answered as placed, every one answered exists;
- no stock stranded: once quiet, for every album the run touched, the stock it started with minus the stock now
  is the copies in the run's live orders;
- recovery: the journeys that began after the fault was off (and the services had read it) all verified.

The fault is switched by writing the flag file (FLAGS_FILE, where the services read it: local runs and
`docker compose run traffic ...`), or through a running generator's API with --faults-url URL (PUT
/faults/<flag>, with the admin's credentials outside local mode). Only a run on one process has a scenario, and its
user mix leaves out the browser shopper (a browser cannot see the fault's mark) and the admin (who changes stock).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import requests
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from musicstore.common import flags
from musicstore.common.flags import FlagValue
from musicstore.traffic.identity import HEADERS
from musicstore.traffic.ledger import Ledger
from musicstore.traffic.options import RunConfig, Scenario, scenario_named
from musicstore.traffic.settings import TrafficSettings

log = logging.getLogger("musicstore.traffic.scenario")

SETTLE = 3.0  # seconds for every service to read a switched flag (the flagd provider looks each second)
QUIET = 45.0  # seconds at most for pending checkouts and held stock to settle after the run
PLACED = (201,)  # the same key again gets 201 too (DESIGN.md: the answer is for good)


Switch = Callable[[str, FlagValue], None]


def file_switch(path: Path) -> Switch:
    """Switch flags by writing the flag file the services read."""

    def _switch(name: str, value: FlagValue) -> None:
        flags.set_value(path, name, value)

    return _switch


def http_switch(url: str, auth: tuple[str, str] | None) -> Switch:
    """Switch flags through a running generator's API (PUT /faults/<flag>)."""

    def _switch(name: str, value: FlagValue) -> None:
        answer = requests.put(f"{url.rstrip('/')}/faults/{name}", json={"value": value}, auth=auth, timeout=10)
        if answer.status_code != 200:
            raise RuntimeError(f"switching {name} at {url} answered {answer.status_code}: {answer.text[:200]}")

    return _switch


@dataclass
class Checkout:
    """A checkout a shopper submitted, and the last answer it got."""

    key: str
    email: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int | None = None


@dataclass
class Check:
    """One invariant and whether it held."""

    name: str
    held: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        """The check as JSON."""
        return {"name": self.name, "held": self.held, "detail": self.detail}


@dataclass
class ScenarioRun:
    """A scenario under way: what its shoppers did, when the fault was on, and the checks at the end."""

    scenario: Scenario
    config: RunConfig
    switch: Switch
    run_time: float
    checkouts: dict[str, Checkout] = field(default_factory=dict)
    albums: set[int] = field(default_factory=set)
    journeys: list[tuple[float, str, frozenset[str]]] = field(default_factory=list)
    initial_stock: dict[int, int] = field(default_factory=dict)
    on_at: float | None = None
    off_at: float | None = None
    checks: list[Check] = field(default_factory=list)

    # What the shoppers tell it --------------------------------------------------------------------------------

    def touched(self, album_id: int) -> None:
        """A shopper put this album in a cart."""
        self.albums.add(album_id)

    def checkout(self, body: dict[str, Any], cart_headers: dict[str, str]) -> None:
        """A shopper submits a checkout (its body and cart)."""
        key = str(body["idempotency_key"])
        self.checkouts[key] = Checkout(key, str(body["email"]), dict(body), dict(cart_headers))

    def answered(self, key: str, response: requests.Response) -> None:
        """The cart's answer to a checkout's submit."""
        if key in self.checkouts:
            self.checkouts[key].status = response.status_code

    def journey_ended(self, began: float, outcome: str, faults: set[str]) -> None:
        """A journey that began at `began` ended with this outcome, having met these faults."""
        self.journeys.append((began, outcome, frozenset(faults)))

    # The run -----------------------------------------------------------------------------------------------------

    def start(self) -> ScenarioRun:
        """Note the stock, make sure the fault is off, and switch it on and off in the background."""
        self.switch(self.scenario.flag, flags.FLAGS[self.scenario.flag].off)
        self.initial_stock = self._stock()
        gevent.spawn(self._phases)
        return self

    def _phases(self) -> None:
        third = self.run_time / 3
        gevent.sleep(third)  # the run's first third, without the fault (a planned phase, not a wait for a condition)
        if self.off_at is not None:  # the run already ended
            return
        self.switch(self.scenario.flag, self.scenario.value)
        self.on_at = time.time()
        log.warning("scenario %s: %s switched to %s", self.scenario.name, self.scenario.flag, self.scenario.value)
        gevent.sleep(third)  # the fault's third
        self._off()

    def _off(self) -> None:
        if self.off_at is None:
            self.switch(self.scenario.flag, flags.FLAGS[self.scenario.flag].off)
            self.off_at = time.time()
            log.warning("scenario %s: %s switched off", self.scenario.name, self.scenario.flag)

    def finish(self, failures: list[str]) -> dict[str, Any]:
        """Switch the fault off (a run may end early), let the system settle, check every invariant; the report."""
        if self.on_at is None:  # the run ended before the fault's third: make sure it never comes on
            self.on_at = self.off_at = time.time()
            self.switch(self.scenario.flag, flags.FLAGS[self.scenario.flag].off)
        self._off()
        self._settle_pending()
        orders = self._orders_by_email()
        self.checks = [
            self._took_effect(),
            Check("every journey verified (carts kept, orders as answered)", not failures,
                  "; ".join(failures[:5]) or f"{len(self.journeys)} journeys"),
            self._no_order_lost_or_twice(orders),
            self._no_stock_stranded(),
            self._recovered(),
        ]  # fmt: skip
        return self.report()

    @property
    def held(self) -> bool:
        """True when every invariant held."""
        return bool(self.checks) and all(check.held for check in self.checks)

    def report(self) -> dict[str, Any]:
        """The scenario's report, for the summary."""
        return {
            "name": self.scenario.name,
            "flag": self.scenario.flag,
            "value": self.scenario.value,
            "fault_on_seconds": round(self.off_at - self.on_at, 1) if self.on_at and self.off_at else 0,
            "checkouts": len(self.checkouts),
            "albums_touched": len(self.albums),
            "held": self.held,
            "checks": [check.as_json() for check in self.checks],
        }

    # The checks ---------------------------------------------------------------------------------------------------

    def _took_effect(self) -> Check:
        met = sum(1 for began, _, faults in self.journeys if self.scenario.flag in faults)
        return Check(f"the fault took effect ({self.scenario.flag})", met > 0, f"{met} journeys met it")

    def _no_order_lost_or_twice(self, orders: dict[str, list[dict[str, Any]]]) -> Check:
        problems = []
        for checkout in self.checkouts.values():
            found = orders.get(checkout.email, [])
            by_key = self._get(f"{self.config.orders}/api/orders", idempotency_key=checkout.key)["total"]
            if len(found) > 1 or by_key > 1:
                problems.append(f"checkout {checkout.key}: {max(len(found), by_key)} orders")
            elif checkout.status in PLACED and not found:
                problems.append(f"checkout {checkout.key}: answered as placed, no order")
            elif found and checkout.status is not None and checkout.status not in PLACED:
                problems.append(
                    f"checkout {checkout.key}: answered {checkout.status}, yet order {found[0]['order_number']}"
                )
        placed = sum(1 for c in self.checkouts.values() if c.status in PLACED)
        detail = "; ".join(problems[:5]) or f"{len(self.checkouts)} checkouts, {placed} orders, each as answered"
        return Check("no order lost or made twice", not problems, detail)

    def _no_stock_stranded(self) -> Check:
        """Once quiet: for each touched album, the stock taken is the copies in the run's live orders."""

        def gaps() -> list[str]:
            taken: dict[int, int] = {}
            for order in (o for found in self._orders_by_email().values() for o in found):
                if order.get("status") != "cancelled":
                    for line in order.get("items", []):
                        taken[int(line["album_id"])] = taken.get(int(line["album_id"]), 0) + int(line["quantity"])
            now = self._stock(sorted(self.albums & set(self.initial_stock)))
            return [
                f"album {a}: {self.initial_stock[a] - now[a]} copies left the stock, {taken.get(a, 0)} are in orders"
                for a in sorted(now)
                if self.initial_stock[a] - now[a] != taken.get(a, 0)
            ]

        # The cart's sweep gives back stock held by checkouts it settles every few seconds: look again, bounded.
        found: list[str] = Retrying(
            retry=retry_if_result(bool),
            stop=stop_after_delay(QUIET),
            wait=wait_fixed(1),
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else ["no answer"],
        )(gaps)
        detail = "; ".join(found[:5]) or f"{len(self.albums)} albums: what left the stock is in live orders"
        return Check("no stock stranded", not found, detail)

    def _recovered(self) -> Check:
        if self.off_at is None:
            return Check("recovery after the fault", False, "the fault was never switched off")
        after = [(outcome, faults) for began, outcome, faults in self.journeys if began >= self.off_at + SETTLE]
        bad = [outcome for outcome, faults in after if outcome not in ("verified", "sold_out") or faults]
        detail = f"{len(after)} journeys began after the fault was off, {len(bad)} did not verify cleanly"
        return Check("recovery after the fault", bool(after) and not bad, detail)

    # Reads of the services ------------------------------------------------------------------------------------

    def _settle_pending(self) -> None:
        """Ask again, as the shopper's page would, about the checkouts last answered "pending" (202)."""
        deadline = time.monotonic() + QUIET
        for checkout in self.checkouts.values():
            while checkout.status == 202 and time.monotonic() < deadline:
                answer = requests.post(
                    f"{self.config.cart}/process_payment", json=checkout.body, timeout=self.config.request_timeout,
                    headers={**HEADERS, **checkout.headers},
                )  # fmt: skip
                checkout.status = answer.status_code
                if answer.status_code == 202:  # the cart said when to ask again (bounded)
                    gevent.sleep(min(max(float(answer.headers.get("Retry-After", "1")), 0.2), 5.0))

    def _orders_by_email(self) -> dict[str, list[dict[str, Any]]]:
        emails = {checkout.email for checkout in self.checkouts.values()}
        return {email: self._get(f"{self.config.orders}/api/orders", customer_email=email)["items"] for email in emails}

    def _stock(self, ids: list[int] | None = None) -> dict[int, int]:
        """Each album's stock: the whole catalog, or the albums of `ids` (the store's batch read, 100 at a time)."""
        stock: dict[int, int] = {}
        if ids is None:
            page = 1
            while True:
                body = self._get(f"{self.config.store}/api/albums", page=page, per_page=100)
                stock.update({int(a["id"]): int(a["stock"]) for a in body["items"]})
                if page * 100 >= int(body["total"]) or not body["items"]:
                    return stock
                page += 1
        for start in range(0, len(ids), 100):
            body = self._get(f"{self.config.store}/api/albums", ids=",".join(map(str, ids[start : start + 100])))
            stock.update({int(a["id"]): int(a["stock"]) for a in body["items"]})
        return stock

    def _get(self, url: str, **params: Any) -> Any:
        headers = {**HEADERS, "Authorization": f"Bearer {self.config.service_token}"}
        answer = requests.get(url, params={"per_page": 100, **params}, headers=headers, timeout=30)
        answer.raise_for_status()
        return answer.json()


def table(report: dict[str, Any]) -> str:
    """The scenario's checks as lines for the terminal."""
    lines = [f"scenario {report['name']}: {report['flag']}={report['value']} for {report['fault_on_seconds']} s"]
    lines += [f"  {'held' if c['held'] else 'BROKEN'}: {c['name']} ({c['detail']})" for c in report["checks"]]
    return "\n".join(lines)


def begin(options: Any, settings: TrafficSettings, config: RunConfig) -> ScenarioRun | None:
    """The run's scenario, started (its fault switched off, the stock noted), when the options name one."""
    name = str(getattr(options, "scenario", "") or "")
    if not name:
        return None
    faults_url = str(getattr(options, "faults_url", "") or "")
    auth = (settings.ADMIN_USER, settings.ADMIN_PASSWORD) if settings.ADMIN_PASSWORD else None
    switch = http_switch(faults_url, auth) if faults_url else file_switch(settings.flags_file)
    run_time = float(getattr(options, "run_time", 0) or 0)
    scenario = scenario_named(name)
    log.warning("scenario %s: %s, %s for the middle third of %g s", name, scenario.description, scenario.flag, run_time)
    return ScenarioRun(scenario, config, switch, run_time).start()


def end(run: ScenarioRun, ledger: Ledger) -> dict[str, Any]:
    """Check the scenario's invariants after the run (the journeys' failures among them); its report."""
    failures = [f"{kind}: {f['reason']}" for kind, c in ledger.as_json().items() for f in c["failures"]]
    report = run.finish(failures)
    print("\n" + table(report), flush=True)
    return report
