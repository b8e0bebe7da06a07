"""Fault switches in a service: flags evaluated through OpenFeature, faults counted, logged and marked.

The flags (musicstore.common.flags) are evaluated with the OpenFeature SDK and the flagd provider in process,
from the flag file (FLAGS_FILE, default DATA_DIR/flags.json): its FILE resolver reads the file again each
second when it changed, and tells its change as an OpenFeature event. Each change is evaluated then, once,
into a snapshot the requests read, so a request's evaluation costs a dictionary read, not the SDK's ~40 µs
(none of our flags has targeting, so every request would get the same answer anyway). Without a flag file
every flag is off; a file that appears later (in Compose, the traffic generator writes it) is looked for
every few seconds, when a request asks.

Every injected fault is counted (`faults_injected_total{flag}`), logged (one line: the flag and the path) and
marked on the answer (`X-Fault-Injected: <flag>`); a downstream's mark that a service's answer met is passed
on to that answer (relay), so a client that sees only the cart still sees which fault it met.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, jsonify, request
from openfeature import api
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import ResolverType
from openfeature.event import ProviderEvent
from openfeature.exception import OpenFeatureError

from musicstore.common.errors import ApiError
from musicstore.common.flags import ALL_OFF, FLAGS, FlagValue
from musicstore.common.metrics import count_fault

log = logging.getLogger("musicstore.faults")

HEADER = "X-Fault-Injected"
LOOK_EVERY = 2.0  # seconds between looks for a flag file that does not exist yet
POLL_MS = 1000  # how often the flagd provider looks at the file's modification time


class FaultSwitches:
    """The flags of one flag file, as OpenFeature evaluates them; every flag off until the file exists."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.values: dict[str, FlagValue] = dict(ALL_OFF)
        self._client: Any = None
        self._next_look = 0.0
        self._lock = threading.Lock()

    def value(self, name: str) -> FlagValue:
        """A flag's value now (cheap: read from the snapshot of the last change)."""
        if self._client is None and time.monotonic() >= self._next_look:
            self._start()
        return self.values[name]

    def _start(self) -> None:
        """Once the flag file exists: the flagd provider on it, in a domain of its own, and its events."""
        with self._lock:
            if self._client is not None or time.monotonic() < self._next_look:
                return
            self._next_look = time.monotonic() + LOOK_EVERY
            if self.path is None or not self.path.exists():
                return
            domain = f"musicstore-flags:{self.path}"
            client = api.get_client(domain)
            for event in (ProviderEvent.PROVIDER_READY, ProviderEvent.PROVIDER_CONFIGURATION_CHANGED):
                client.add_handler(event, lambda _details: self.refresh())
            provider = FlagdProvider(
                resolver_type=ResolverType.FILE, offline_flag_source_path=str(self.path), deadline_ms=POLL_MS
            )
            try:
                api.set_provider_and_wait(provider, domain=domain)
            except OpenFeatureError as exc:  # e.g. not JSON yet: the provider keeps looking, and says when ready
                log.warning(
                    "the flag file %s cannot be read yet (%s); every flag stays off until it can", self.path, exc
                )
            self._client = client
            log.info("fault switches: flags from %s", self.path)
        self.refresh()

    def refresh(self) -> None:
        """Evaluate every flag through OpenFeature into a new snapshot (on start and on each change)."""
        client = self._client
        if client is None:
            return
        values: dict[str, FlagValue] = {}
        for name, flag in FLAGS.items():
            if flag.kind == "boolean":
                values[name] = flag.clamped(client.get_boolean_value(name, False))
            else:
                values[name] = flag.clamped(client.get_float_value(name, 0.0))
        changed = {name: value for name, value in values.items() if self.values.get(name) != value}
        self.values = values  # one assignment: a request sees the old snapshot or the new one, never a mix
        if changed:
            log.info("fault switches changed: %s", ", ".join(f"{k}={v:g}" for k, v in changed.items()))


_SWITCHES: dict[Path | None, FaultSwitches] = {}
_SWITCHES_LOCK = threading.Lock()


def switches_for(path: Path | None) -> FaultSwitches:
    """The switches of a flag file, one per file in a process (the apps of one process share them)."""
    key = path.resolve() if path is not None else None
    with _SWITCHES_LOCK:
        return _SWITCHES.setdefault(key, FaultSwitches(key))


def init_faults(app: Flask, flags_file: Path | None) -> FaultSwitches:
    """Bind the switches of the flag file to the app, count injected faults and mark them on answers."""
    switches = switches_for(flags_file)
    app.extensions["faults"] = switches
    app.after_request(_mark)
    return switches


def value(name: str) -> FlagValue:
    """A flag's value now, in the running app."""
    switches: FaultSwitches = current_app.extensions["faults"]
    return switches.value(name)


def injected(flag: str) -> None:
    """A fault of this flag is being injected into the request: counted, logged, marked on the answer."""
    count_fault(flag)  # faults_injected_total{flag}
    log.warning("fault injected: %s on %s %s", flag, request.method, request.path)
    _note(flag)


def relay(headers: Any) -> None:
    """A downstream's answer marked with a fault: mark this request's answer too (not counted again here)."""
    marked = headers.get(HEADER)
    if marked and has_request_context():
        for flag in marked.split(","):
            if flag.strip() in FLAGS:
                _note(flag.strip())


def _note(flag: str) -> None:
    noted: list[str] = g.setdefault("faults_injected", [])
    if flag not in noted:
        noted.append(flag)


def _mark(response: Response) -> Response:
    noted = g.get("faults_injected")
    if noted:
        response.headers[HEADER] = ", ".join(noted)
    return response


def fail_if_on(flag: str, message: str) -> None:
    """Answer 503 (ApiError) while a boolean flag is on."""
    if value(flag):
        injected(flag)
        raise ApiError(f"{message} (injected fault: {flag})", 503)


def api_faults(latency_flag: str, failure_flag: str, prefix: str = "/api/") -> Callable[[], Response | None]:
    """A before_request hook: paths under `prefix` answer that many ms later, and that share of them 503."""

    def _hook() -> Response | None:
        if not request.path.startswith(prefix):
            return None
        delay = value(latency_flag)
        if delay:
            injected(latency_flag)
            time.sleep(float(delay) / 1000)  # the injected fault itself: a deliberate delay
        share = value(failure_flag)
        if share and _chance(float(share)):
            injected(failure_flag)
            response = jsonify({"error": f"the service is unavailable (injected fault: {failure_flag})"})
            response.status_code = 503
            return response
        return None

    return _hook


def not_ready_if_on(flag: str, path: str = "/readyz") -> Callable[[], Response | None]:
    """A before_request hook: the readiness check answers 503 while the flag is on."""

    def _hook() -> Response | None:
        if request.path != path or not value(flag):
            return None
        injected(flag)
        response = jsonify({"status": "unavailable", "reason": f"injected fault: {flag}"})
        response.status_code = 503
        return response

    return _hook


def _chance(share: float) -> bool:
    return random.random() < share  # noqa: S311 - which requests fail is a simulation, not a secret
