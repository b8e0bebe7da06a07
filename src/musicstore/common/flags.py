"""The fault switches' flags and their file, in the flagd flag-definition format.

The file is what flagd and the OpenTelemetry demo read: `{"$schema": ..., "flags": {name: {"state",
"variants", "defaultVariant"}}}`; a flag's value is its default variant's. Every service evaluates it through
OpenFeature (musicstore.common.faults); the traffic generator's Faults tab writes it (musicstore.traffic.faults),
always whole and atomically (a temporary file renamed over it), so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = "https://flagd.dev/schema/v0/flags.json"
FlagValue = bool | float


class FlagProblem(ValueError):
    """An unknown flag, or a value of the wrong type or out of its range; the message says which."""


@dataclass(frozen=True)
class Flag:
    """One fault switch: its type, its value when off, its range and its named variants."""

    name: str
    kind: str  # "number" or "boolean"
    description: str
    high: float = 1.0
    variants: tuple[tuple[str, FlagValue], ...] = ()

    @property
    def off(self) -> FlagValue:
        """The value that injects nothing."""
        return False if self.kind == "boolean" else 0

    def check(self, value: Any) -> FlagValue:
        """The value as this flag takes it, or FlagProblem saying what it takes."""
        if self.kind == "boolean":
            if not isinstance(value, bool):
                raise FlagProblem(f"{self.name} takes true or false, not {json.dumps(value)}")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # NaN != NaN
            raise FlagProblem(f"{self.name} takes a number from 0 to {self.high:g}, not {json.dumps(value)}")
        if not 0 <= value <= self.high:
            raise FlagProblem(f"{self.name} takes a number from 0 to {self.high:g}; {value:g} is out of range")
        return value

    def clamped(self, value: Any) -> FlagValue:
        """A value read from a file someone edited by hand, brought into range (the wrong type: off)."""
        if self.kind == "boolean":
            return value if isinstance(value, bool) else False
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            return 0
        return min(max(value, 0), self.high)

    def definition(self) -> dict[str, Any]:
        """The flag as flagd defines it, off."""
        variants = dict(self.variants) if self.variants else {"off": self.off}
        # The description goes in flagd's per-flag metadata: the Python provider refuses keys the schema lacks.
        return {
            "state": "ENABLED",
            "variants": variants,
            "defaultVariant": "off",
            "metadata": {"description": self.description},
        }


FLAGS: dict[str, Flag] = {
    flag.name: flag
    for flag in (
        Flag("paymentFailure", "number", "Share of payments declined (0-1): 402, the cart kept.",
             variants=(("off", 0), ("10%", 0.1), ("30%", 0.3), ("50%", 0.5), ("100%", 1))),
        Flag("paymentLatencyMs", "number", "The simulated payment takes this much longer (ms).", high=30_000,
             variants=(("off", 0), ("1s", 1000), ("3s", 3000), ("10s", 10_000))),
        Flag("storeApiLatencyMs", "number", "The store's /api/* answers this much later (ms).", high=30_000,
             variants=(("off", 0), ("200ms", 200), ("1s", 1000), ("3s", 3000))),
        Flag("storeApiFailure", "number", "Share of the store's /api/* answers that are 503 (0-1).",
             variants=(("off", 0), ("10%", 0.1), ("30%", 0.3), ("50%", 0.5), ("100%", 1))),
        Flag("ordersUnavailable", "boolean", "POST /api/orders answers 503.",
             variants=(("on", True), ("off", False))),
        Flag("cartNotReady", "boolean", "The cart's /readyz answers 503 (taken out of rotation).",
             variants=(("on", True), ("off", False))),
    )
}  # fmt: skip
ALL_OFF: dict[str, FlagValue] = {name: flag.off for name, flag in FLAGS.items()}


def flag_named(name: str) -> Flag:
    """The flag of this name, or FlagProblem naming the flags there are."""
    try:
        return FLAGS[name]
    except KeyError:
        raise FlagProblem(f"no flag {name!r}; the flags are {', '.join(FLAGS)}") from None


def document_all_off() -> dict[str, Any]:
    """A flag file with every flag defined and off."""
    return {"$schema": SCHEMA, "flags": {name: flag.definition() for name, flag in FLAGS.items()}}


def values_of(document: Any) -> dict[str, FlagValue]:
    """Each flag's value in a flag document: its default variant's when enabled, else off (as flagd does)."""
    flags = document.get("flags") if isinstance(document, dict) else None
    values = dict(ALL_OFF)
    for name, flag in FLAGS.items():
        entry = flags.get(name) if isinstance(flags, dict) else None
        if (
            not isinstance(entry, dict)
            or entry.get("state") != "ENABLED"
            or not isinstance(entry.get("variants"), dict)
        ):
            continue
        values[name] = flag.clamped(entry["variants"].get(entry.get("defaultVariant"), flag.off))
    return values


def with_value(document: Any, name: str, value: FlagValue) -> dict[str, Any]:
    """The document with one flag set: the variant that has the value becomes the default (one named "on"
    is made, or changed, when none has it); the other flags and their variants are kept as they are."""
    flag = flag_named(name)
    value = flag.check(value)
    body = json.loads(json.dumps(document)) if isinstance(document, dict) else {}
    body.setdefault("$schema", SCHEMA)
    flags = body["flags"] if isinstance(body.get("flags"), dict) else {}
    body["flags"] = flags
    entry = flags[name] if isinstance(flags.get(name), dict) else flag.definition()
    variants = entry["variants"] if isinstance(entry.get("variants"), dict) else {}
    variants.setdefault("off", flag.off)
    chosen = next((k for k, v in variants.items() if _same(v, value)), None)
    if chosen is None:
        chosen, variants["on"] = "on", value
    flags[name] = {**entry, "state": "ENABLED", "variants": variants, "defaultVariant": chosen}
    return body


def _same(a: Any, b: FlagValue) -> bool:
    """Equal, without True counting as 1."""
    return isinstance(a, bool) == isinstance(b, bool) and isinstance(a, int | float) and a == b


def read_document(path: Path) -> dict[str, Any] | None:
    """The flag file's document, or None when there is no file or it cannot be read as JSON."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def read_values(path: Path) -> dict[str, FlagValue]:
    """The flags' values in a flag file (every flag off when there is none)."""
    return values_of(read_document(path))


def write_document(path: Path, document: Mapping[str, Any]) -> None:
    """Write the flag file whole: a temporary file beside it, renamed over it (atomic on one file system)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".flags-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w") as out:
            out.write(json.dumps(document, indent=2) + "\n")
        os.chmod(temporary, 0o644)  # the services read it, possibly as another user (a shared volume)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def set_value(path: Path, name: str, value: Any) -> dict[str, FlagValue]:
    """Switch one flag in the flag file (made, every other flag off, when missing); the values after."""
    document = with_value(read_document(path) or document_all_off(), name, value)
    write_document(path, document)
    return values_of(document)


def ensure_file(path: Path) -> bool:
    """Write the flag file with every flag off unless it exists; True when it was written."""
    if path.exists():
        return False
    write_document(path, document_all_off())
    return True
