"""One probe run, wired: open the socket, run the session, judge every target.

This is the seam the CLI, the benchmark and the system tests share. The socket factory and the
clocks are passed in, so a fake transport and a fake clock run it without a network.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from vpnctl.probe import report, session
from vpnctl.probe.report import Report, Target
from vpnctl.probe.transport import Clock, Transport, TransportUnavailable, open_transport
from vpnctl.topology import Thresholds


def probe(
    targets: Sequence[Target],
    schedule: session.Schedule,
    warn: Thresholds,
    crit: Thresholds,
    *,
    opener: Callable[[Clock], Transport] = open_transport,
    clock: Clock = time.monotonic,
    wall: Clock = time.time,
) -> Report:
    """Measure every target concurrently; UNKNOWN for all if no ICMP socket can be had."""
    started = wall()
    try:
        transport = opener(clock)
    except TransportUnavailable as exc:
        results = report.unmeasured(targets, str(exc))
        return Report(results, warn, crit, started, None, None)
    try:
        addresses = [t.address for t in targets]
        echoes = session.run(addresses, schedule, transport, clock)
    finally:
        transport.close()
    results, lag = report.measured(targets, echoes, warn, crit)
    return Report(results, warn, crit, started, transport.kind, lag)
