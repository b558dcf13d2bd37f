"""From figures to a status, the way monitoring plugins judge them.

Like ``check_ping``, a target is CRITICAL when its loss or its RTT reaches the critical
threshold, WARNING when either reaches the warning one, OK otherwise. The RTT judged is the
median: one delayed packet among twenty should not page anyone, a slow path should. Nothing
back at all is CRITICAL whatever the thresholds; a prober that cannot probe is UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

from vpnctl.probe.measure import Stats
from vpnctl.topology import Thresholds


class Status(IntEnum):
    """The monitoring-plugins states; the value is the plugin's exit status."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


# Worst first, as monitoring-plugins' max_state_alt: a target we could not measure outranks
# the ones that are fine, so "UNKNOWN" is never hidden behind "OK".
_SEVERITY = (Status.CRITICAL, Status.WARNING, Status.UNKNOWN, Status.OK)


def judge(stats: Stats | None, warn: Thresholds, crit: Thresholds) -> Status:
    if stats is None or stats.sent == 0:
        return Status.UNKNOWN
    if stats.rtt is None or _reaches(stats, crit):
        return Status.CRITICAL
    if _reaches(stats, warn):
        return Status.WARNING
    return Status.OK


def _reaches(stats: Stats, limit: Thresholds) -> bool:
    median = stats.rtt.median if stats.rtt is not None else float("inf")
    return stats.loss_pct >= limit.loss_pct or median >= limit.rtt_ms


def worst(statuses: Iterable[Status]) -> Status:
    present = set(statuses)
    return next((s for s in _SEVERITY if s in present), Status.UNKNOWN)


def parse_thresholds(text: str) -> Thresholds:
    """``check_ping``'s ``RTA,PL%`` form, e.g. ``250,2%``: RTT in ms, then loss in percent."""
    rtt, sep, loss = text.partition(",")
    if not sep or not loss.endswith("%"):
        raise ValueError(f"{text!r} is not RTT_MS,LOSS% (for example 250,2%)")
    try:
        values = Thresholds(loss_pct=float(loss[:-1]), rtt_ms=float(rtt))
    except ValueError:
        raise ValueError(f"{text!r} is not RTT_MS,LOSS% (for example 250,2%)") from None
    if values.rtt_ms < 0 or not 0 <= values.loss_pct <= 100:
        raise ValueError(f"{text!r}: RTT must be >= 0 and loss between 0% and 100%")
    return values
