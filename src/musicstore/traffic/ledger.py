"""What the journeys of a run came to: started, verified, failed (with reasons), interrupted, orders made.

One ledger per process. With `--journeys N` it is also the run's budget: no journey starts once N have
started, and the types that have not run yet keep a share of what is left, so every user type runs.
Workers send what changed with each stats report; the master adds it up.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

OUTCOMES = ("verified", "sold_out", "verified_fault", "failed", "interrupted")


@dataclass
class JourneyCounts:
    """The journeys of one user type."""

    started: int = 0
    verified: int = 0
    sold_out: int = 0
    verified_fault: int = 0
    failed: int = 0
    interrupted: int = 0
    orders: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, other: JourneyCounts) -> None:
        """Add another count of the same user type."""
        for name in ("started", *OUTCOMES, "orders"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reasons.update(other.reasons)

    def as_json(self) -> dict[str, Any]:
        """The counts as JSON (reasons most frequent first)."""
        body: dict[str, Any] = {name: getattr(self, name) for name in ("started", *OUTCOMES, "orders")}
        body["failures"] = [{"reason": reason, "count": n} for reason, n in self.reasons.most_common()]
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> JourneyCounts:
        """Counts sent by a worker."""
        counts = cls()
        for name in ("started", *OUTCOMES, "orders"):
            setattr(counts, name, int(body.get(name, 0)))
        counts.reasons.update({item["reason"]: int(item["count"]) for item in body.get("failures", [])})
        return counts


class Ledger:
    """The journeys of this process, and the budget of a run bounded by a number of journeys."""

    def __init__(self, budget: int | None = None) -> None:
        self.budget = budget
        self.totals: dict[str, JourneyCounts] = {}
        self._unsent: dict[str, JourneyCounts] = {}
        self._present: Counter[str] = Counter()
        self.in_flight = 0

    def register(self, kind: str) -> None:
        """A user of this type takes part in the run."""
        self._present[kind] += 1

    def leave(self, kind: str) -> None:
        """A user of this type stopped (a type with no user left keeps no share of the budget)."""
        self._present[kind] = max(0, self._present[kind] - 1)

    @property
    def started(self) -> int:
        """Journeys started so far in this process."""
        return sum(c.started for c in self.totals.values())

    @property
    def finished(self) -> int:
        """Journeys that ended, whatever their outcome."""
        return sum(getattr(c, outcome) for c in self.totals.values() for outcome in OUTCOMES)

    def may_start(self, kind: str) -> bool:
        """True when a journey of this type may start now (the budget, if any, allows it)."""
        if self.budget is None:
            return True
        left = self.budget - self.started
        waiting = len({k for k, users in self._present.items() if users and not self._count(k).started} - {kind})
        return left > 0 and (left > waiting or not self._count(kind).started)

    @property
    def spent(self) -> bool:
        """True when the budget is used up and no journey is under way."""
        return self.budget is not None and self.started >= self.budget and self.in_flight == 0

    def start(self, kind: str) -> None:
        """A journey of this type starts."""
        self.in_flight += 1
        for counts in (self._count(kind), self._unsent_count(kind)):
            counts.started += 1

    def finish(self, kind: str, outcome: str, *, reason: str = "", orders: int = 0) -> None:
        """A journey ended with an outcome (and, when it failed, why)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        self.in_flight = max(0, self.in_flight - 1)
        for counts in (self._count(kind), self._unsent_count(kind)):
            setattr(counts, outcome, getattr(counts, outcome) + 1)
            counts.orders += orders
            if reason:
                counts.reasons[reason] += 1

    def take_unsent(self) -> dict[str, Any]:
        """What changed since the last call, as JSON (a worker sends it to the master)."""
        unsent, self._unsent = self._unsent, {}
        return {kind: counts.as_json() for kind, counts in unsent.items()}

    def merge(self, body: dict[str, Any]) -> None:
        """Add what a worker sent."""
        for kind, counts in body.items():
            self._count(kind).add(JourneyCounts.from_json(counts))

    def failed(self) -> int:
        """Journeys that failed."""
        return sum(c.failed for c in self.totals.values())

    def as_json(self) -> dict[str, Any]:
        """Every user type's counts, by type."""
        return {kind: self.totals[kind].as_json() for kind in sorted(self.totals)}

    def _count(self, kind: str) -> JourneyCounts:
        return self.totals.setdefault(kind, JourneyCounts())

    def _unsent_count(self, kind: str) -> JourneyCounts:
        return self._unsent.setdefault(kind, JourneyCounts())
