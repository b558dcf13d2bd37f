"""Carry out a change set. No decisions here: the diff made them all.

Stages run in order; within a stage every account/region works in parallel, each doing its
changes in the change set's order. A failure stops that region at once; the others finish the
stage and then the apply stops with the first error. Whatever was made carries vpnctl's tags
from its first moment, so the next apply sees it and carries on.

``Executor`` talks to AWS through the handlers of ``handlers.HANDLERS`` (one per change class,
dispatched by type; what they see of it is ``context.Executor``); ``DisplayOnly`` has the same
``run`` and only shows the change set (``--dry-run``). Each stage is logged by name (--debug).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby
from typing import TextIO

from vpnctl.aws import actions
from vpnctl.aws.changes import Change, ChangeSet, Stage, batched
from vpnctl.aws.context import Handler, KeySource
from vpnctl.aws.door import BotoWire, Door, Wire
from vpnctl.aws.handlers import HANDLERS
from vpnctl.aws.intent import Intent
from vpnctl.aws.progress import Progress, Quiet
from vpnctl.aws.registry import Registry
from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Sessions
from vpnctl.aws.view import to_text

log = logging.getLogger("vpnctl.aws")


@dataclass
class Executor:
    sessions: Sessions
    intent: Intent
    registry: Registry
    keys: KeySource
    retry: Retry = field(default_factory=Retry)
    progress: Progress = field(default_factory=Quiet)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wait_s: float = 900.0  # for a gateway instance to appear
    zone_id: str | None = None  # the hosted zone, when it exists already
    handlers: Mapping[type[Change], Handler] = field(default_factory=lambda: HANDLERS)
    wire: Wire | None = None  # AWS in memory (``fakedoor``), else boto3 through ``sessions``

    @property
    def door(self) -> Door:
        return Door(self.wire or BotoWire(self.sessions, self.retry))

    def run(self, changes: ChangeSet) -> None:
        self.progress.begin(len(changes.changes))
        try:
            for stage, items in groupby(changes.changes, key=lambda c: c.stage):
                self.stage(stage, list(items))
        finally:
            self.progress.end()

    def stage(self, stage: Stage, items: list[Change]) -> None:
        by_region: dict[tuple[str, str], list[Change]] = {}
        for change in items:
            by_region.setdefault((change.where.account, change.where.region), []).append(change)
        log.debug("stage %s: %d changes in %d regions", stage.label, len(items), len(by_region))
        with ThreadPoolExecutor(max_workers=max(1, len(by_region))) as pool:
            futures = [pool.submit(self.region, work) for work in by_region.values()]
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            first = errors[0]
            assert first is not None
            raise first

    def region(self, work: list[Change]) -> None:
        for batch in batched(work):  # DNS records: one call per zone, not one per record
            actions.perform_batch(self, batch)
            for change in batch:
                self.progress.done(change)


@dataclass
class DisplayOnly:
    """The same ``run``, for --dry-run: shows what would be done, does nothing."""

    out: TextIO

    def run(self, changes: ChangeSet) -> None:
        self.out.write(to_text(changes))
