"""What one probe run found: a result per target, and the prober's own condition."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv4Address

from vpnctl.probe import health as healthmod
from vpnctl.probe.health import Health
from vpnctl.probe.measure import Echo, Lag, Stats, lag, summarise
from vpnctl.probe.verdict import Status, judge, worst
from vpnctl.topology import Failover, Thresholds


@dataclass(frozen=True)
class Target:
    """Something to probe. ``link``/``gateway`` are None for ad-hoc ``--target`` probes."""

    address: IPv4Address
    link: str | None = None
    gateway: str | None = None  # the gateway the target is reached through (the far end)
    host: str | None = None  # the name the user gave, when not an address

    @property
    def key(self) -> str:
        """Identifies the target across runs, in the state file."""
        return f"{self.link or '-'}|{self.gateway or '-'}|{self.address}"

    @property
    def label(self) -> str:
        """Short and unique within a run, for tables and perfdata."""
        return f"{self.link} {self.address}" if self.link else str(self.host or self.address)


@dataclass(frozen=True)
class Result:
    target: Target
    stats: Stats | None
    status: Status
    reason: str | None = None  # why UNKNOWN
    health: Health | None = None


@dataclass(frozen=True)
class Report:
    results: tuple[Result, ...]
    warn: Thresholds
    crit: Thresholds
    started_at: float  # unix time
    transport: str | None  # "dgram", "raw", or None when no socket could be opened
    lag: Lag | None  # the prober's scheduling lag over the whole run
    topology: str | None = None
    source: str | None = None  # the local gateway probing, in topology mode

    @property
    def status(self) -> Status:
        return worst(r.status for r in self.results)


def measured(
    targets: Sequence[Target],
    echoes: Sequence[Sequence[Echo]],
    warn: Thresholds,
    crit: Thresholds,
) -> tuple[tuple[Result, ...], Lag | None]:
    """Results from a run's echoes, and the scheduling lag across every target."""
    results = []
    for target, mine in zip(targets, echoes, strict=True):
        stats = summarise(mine)
        results.append(Result(target, stats, judge(stats, warn, crit)))
    lags = [(e.sent - e.scheduled) * 1000.0 for row in echoes for e in row if e.sent is not None]
    return tuple(results), lag(lags)


def unmeasured(targets: Sequence[Target], reason: str) -> tuple[Result, ...]:
    """UNKNOWN for every target, when the prober itself could not probe."""
    return tuple(Result(t, None, Status.UNKNOWN, reason) for t in targets)


def with_health(
    results: Sequence[Result],
    previous: Mapping[str, Health],
    at: float,
    policy: Failover,
    crit: Thresholds,
) -> tuple[Result, ...]:
    """Each result carrying its target's health after this run."""
    return tuple(
        _stepped(r, previous.get(r.target.key, Health()), at, policy, crit) for r in results
    )


def as_run(result: Result, at: float, crit: Thresholds) -> healthmod.Run:
    """A probe result as the health state machine counts it."""
    stats = result.stats
    median = stats.rtt.median if stats and stats.rtt else None
    return healthmod.Run(
        at=at,
        status=result.status.name,
        loss_pct=stats.loss_pct if stats else None,
        median_ms=median,
        sent=stats.sent if stats else 0,
        received=stats.received if stats else 0,
        slow=median is not None and median >= crit.rtt_ms,
    )


def _stepped(
    result: Result, before: Health, at: float, policy: Failover, crit: Thresholds
) -> Result:
    run = as_run(result, at, crit)
    return replace(result, health=healthmod.step(before, run, policy, crit.loss_pct))
