"""A lab on this machine, as every lab module sees it: its plan, layout and state directory.

Its own module so that what the lab's parts share imports none of them (``lifecycle`` makes
labs and re-exports this; ``emulator`` and ``agents`` only read one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vpnctl.design import Design
from vpnctl.lab.journal import Journal
from vpnctl.lab.layout import Layout
from vpnctl.pipeline import Plan


@dataclass(frozen=True)
class Lab:
    """A lab on this machine: its plan, layout and state directory."""

    plan: Plan
    layout: Layout
    state: Path

    @property
    def design(self) -> Design:
        return self.plan.design

    @property
    def journal(self) -> Journal:
        return Journal(self.state / "journal.jsonl")

    def path(self, *parts: str) -> Path:
        return self.state.joinpath(*parts)

    def settings(self) -> dict[str, object]:
        try:
            loaded: dict[str, object] = json.loads(self.path("lab.json").read_text())
        except FileNotFoundError:
            return {}
        return loaded
