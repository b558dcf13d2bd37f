"""The figures for one target, from the outcome of each echo it was sent.

Pure, so every definition below is pinned by unit tests on plain lists:

- ``sent``: echoes the prober tried to send (a send the kernel refused, say for want of a
  route, is sent and lost: the link is what failed, not the prober).
- ``received``: first replies that came back within the timeout.
- ``late``: first replies that came back after the timeout, while the run was still listening.
  They are counted apart: neither received nor lost, because the path works, only slowly.
- ``loss_pct``: echoes with no reply at all, as a percentage of ``sent``.
- ``duplicates``: further replies to an echo already answered (a looping or mirrored path).
- RTT figures cover every first reply, in time or late, since a late reply is a true
  measurement of the path; ``p95`` is the nearest-rank percentile.
- jitter ``mdev``: ping's figure, the population standard deviation of the RTTs,
  sqrt(mean(rtt^2) - mean(rtt)^2). ``mean_abs_diff``: the mean of |rtt[i+1] - rtt[i]| over
  consecutive replies in sequence order (RFC 3550's instantaneous jitter, unsmoothed).
- ``lag``: how far behind its schedule the prober sent each echo. A large lag means the prober
  was overloaded, which must not be mistaken for a slow link.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Echo:
    """What became of one echo request. Times are seconds on the probe's clock."""

    seq: int
    scheduled: float
    sent: float | None  # None: the kernel refused the send
    rtt_ms: float | None = None  # the first reply's round trip, None if none came
    late: bool = False
    duplicates: int = 0


@dataclass(frozen=True)
class Rtt:
    min: float
    median: float
    p95: float
    max: float
    mean: float


@dataclass(frozen=True)
class Jitter:
    mdev: float
    mean_abs_diff: float | None  # needs two replies


@dataclass(frozen=True)
class Lag:
    """Scheduling lag of the prober itself, in milliseconds."""

    mean: float
    p95: float
    max: float


@dataclass(frozen=True)
class Stats:
    sent: int
    received: int
    late: int
    duplicates: int
    errors: int  # sends the kernel refused
    loss_pct: float
    rtt: Rtt | None
    jitter: Jitter | None
    lag: Lag | None


def summarise(echoes: Sequence[Echo]) -> Stats:
    """Every figure for one target; RTT and jitter are None when nothing came back."""
    ordered = sorted(echoes, key=lambda e: e.seq)
    rtts = [e.rtt_ms for e in ordered if e.rtt_ms is not None]
    late = sum(1 for e in ordered if e.rtt_ms is not None and e.late)
    sent = len(ordered)
    return Stats(
        sent=sent,
        received=len(rtts) - late,
        late=late,
        duplicates=sum(e.duplicates for e in ordered),
        errors=sum(1 for e in ordered if e.sent is None),
        loss_pct=loss_pct(sent, len(rtts)),
        rtt=rtt_figures(rtts),
        jitter=jitter(rtts),
        lag=lag([(e.sent - e.scheduled) * 1000.0 for e in ordered if e.sent is not None]),
    )


def loss_pct(sent: int, answered: int) -> float:
    return 0.0 if sent == 0 else 100.0 * (sent - answered) / sent


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: always one of the values, never an interpolation."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


def rtt_figures(rtts: Sequence[float]) -> Rtt | None:
    if not rtts:
        return None
    return Rtt(
        min=min(rtts),
        median=statistics.median(rtts),
        p95=percentile(rtts, 95),
        max=max(rtts),
        mean=statistics.fmean(rtts),
    )


def jitter(rtts: Sequence[float]) -> Jitter | None:
    """Both jitter figures; ``rtts`` must be in sequence order."""
    if not rtts:
        return None
    mean = statistics.fmean(rtts)
    mean_sq = statistics.fmean(r * r for r in rtts)
    mdev = math.sqrt(max(0.0, mean_sq - mean * mean))
    diffs = [abs(b - a) for a, b in itertools.pairwise(rtts)]
    return Jitter(mdev=mdev, mean_abs_diff=statistics.fmean(diffs) if diffs else None)


def lag(lags_ms: Sequence[float]) -> Lag | None:
    if not lags_ms:
        return None
    return Lag(mean=statistics.fmean(lags_ms), p95=percentile(lags_ms, 95), max=max(lags_ms))
