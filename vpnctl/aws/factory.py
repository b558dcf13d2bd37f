"""The one place real objects are wired: sessions, clock, sleep, retries, the call log.

Commands take a ``Factory`` from click's context object when a caller put one there (tests
and the benchmark pass one with their own call log and a sleep that does not wait), and make
a default one otherwise. Nothing here runs at import time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from vpnctl.aws import sandbox as sandboxes
from vpnctl.aws.retry import Retry
from vpnctl.aws.session import CallLog, Sessions
from vpnctl.topology import Topology


@dataclass
class Factory:
    log: CallLog = field(default_factory=CallLog)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    lock_wait_s: float = 0.0

    def retry(self) -> Retry:
        return Retry(sleep=self.sleep)

    @contextmanager
    def sessions(
        self, topology: Topology, endpoint_url: str | None, sandbox: bool
    ) -> Iterator[Sessions]:
        if not sandbox:
            yield Sessions(topology.accounts, endpoint_url, self.log)
            return
        with sandboxes.sandbox() as url:
            yield Sessions(topology.accounts, url, self.log, sandboxes.CREDENTIALS)
