"""The state of this process's part of a run: its settings, its ledger of journeys, its browsers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from musicstore.traffic.browser import BrowserPool
from musicstore.traffic.ledger import Ledger
from musicstore.traffic.options import RunConfig
from musicstore.traffic.settings import TrafficSettings


@dataclass
class TrafficRun:
    """One per process; a new ledger each time a test starts."""

    settings: TrafficSettings = field(default_factory=TrafficSettings)
    config: RunConfig | None = None
    ledger: Ledger = field(default_factory=Ledger)
    browsers: BrowserPool = field(default_factory=BrowserPool)
    summary_path: str = ""
    ending: bool = False
    scenario: Any = None  # the run's scenario (musicstore.traffic.scenarios.ScenarioRun), when it has one

    def configured(self) -> RunConfig:
        """The run's configuration (read from the options when the run started)."""
        if self.config is None:
            self.config = RunConfig.from_options(None, self.settings)
        return self.config


CURRENT = TrafficRun()
