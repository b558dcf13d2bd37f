"""The agent's health loop: its tunnels and its siblings, probed several times a second.

What is watched: the far inside address of every tunnel the gateway runs (read from the
``ifconfig`` line of each tunnel's config, so the tunnel's name and its far end come from the
same file), and every sibling gateway of its VPC (the other AZs' gateways, named by the probe
plan) on its VPC-side address, which a ``Finder`` supplies at run time. Every watch goes
through the probe's health state machine (``vpnctl.probe.health.step``, with the plan's
critical loss threshold and up/down policy), so one lost run moves nothing, random loss below
the threshold practically never does, and a silent far end is DOWN after
``consecutive_failures`` runs.

Silence is not health: a watch starts undecided, not UP. It becomes UP after
``recovery_successes`` good runs, or DOWN after ``consecutive_failures`` failed ones; until then
nothing is published for it, so a restarted agent never reports a tunnel it has not measured.
The first decision is a transition like any later one.

The pure core is ``watches``, ``advance`` and ``is_ready``; ``Loop`` is the thin shell that
measures (through an injected ``Measure``), advances and hands the outcome to a ``Sink`` (the
publisher), with the clock and sleep passed in. On a gateway its runs overlap (``stream``), so
echoes leave every ``interval`` without the gap a run's final timeout would leave.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from ipaddress import AddressValueError, IPv4Address
from typing import Literal, Protocol

from vpnctl.agent.config import Config, tunnel_path
from vpnctl.probe import health as healthmod
from vpnctl.probe.health import Health
from vpnctl.probe.report import Report, Target, as_run
from vpnctl.probe.session import Schedule
from vpnctl.probe.spec import Spec
from vpnctl.topology import Failover

log = logging.getLogger("vpnctl.agent")

Kind = Literal["tunnel", "sibling"]
IDLE_S = 1.0  # between tries while there is nothing to measure yet
REFIND_LOST_S = 5.0  # how soon a missing or DOWN sibling is looked up again
_IFCONFIG = re.compile(r"^\s*ifconfig\s+(\S+)\s+(\S+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Watch:
    """One thing the loop measures: a tunnel's far end, or a sibling gateway."""

    kind: Kind
    name: str  # the tunnel, or the sibling gateway
    address: IPv4Address
    link: str | None = None  # a tunnel's link, for the probe's own figures

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def target(self) -> Target:
        return Target(self.address, self.link, None if self.kind == "tunnel" else self.name)


UNDECIDED = Health(state="DOWN")  # no evidence yet: not UP, and not yet reported DOWN


@dataclass(frozen=True)
class Seen:
    """What the loop holds of one watch: where it was measured, and its health there."""

    watch: Watch
    health: Health = UNDECIDED
    decided: bool = False  # the state machine has reached a state from evidence

    @property
    def up(self) -> bool:
        return self.decided and self.health.state == "UP"


@dataclass(frozen=True)
class Transition:
    kind: Kind
    name: str
    state: str  # "UP" | "DOWN"
    at: float  # unix time


Board = Mapping[str, Seen]


def far_ends(config: Config) -> dict[str, IPv4Address]:
    """Tunnel name -> the far end's inside address, from each tunnel config's ``ifconfig``."""
    found: dict[str, IPv4Address] = {}
    for tunnel in config.tunnels():
        text = config.contents.get(tunnel_path(tunnel), b"").decode(errors="replace")
        match = _IFCONFIG.search(text)
        try:
            found[tunnel] = IPv4Address(match.group(2)) if match else _missing(tunnel)
        except (AddressValueError, LookupError) as exc:
            log.warning("tunnel %s is not probed: %s", tunnel, exc)
    return found


def _missing(tunnel: str) -> IPv4Address:
    raise LookupError(f"its config has no `ifconfig LOCAL REMOTE` line ({tunnel_path(tunnel)})")


def watches(
    tunnels: Mapping[str, IPv4Address],
    siblings: Mapping[str, IPv4Address],
    plan: Spec | None = None,
) -> tuple[Watch, ...]:
    """Every watch, tunnels first, each in name order; a tunnel's link from the probe plan."""
    links = {t.address: t.link for t in plan.targets} if plan else {}
    return (
        *(Watch("tunnel", t, a, links.get(a)) for t, a in sorted(tunnels.items())),
        *(Watch("sibling", s, a) for s, a in sorted(siblings.items())),
    )


def advance(
    board: Board,
    measured: Sequence[tuple[Watch, healthmod.Run]],
    policy: Failover,
    loss_limit_pct: float,
) -> tuple[dict[str, Seen], tuple[Transition, ...]]:
    """The board after one run of every watch, and the transitions it made.

    A watch no longer measured leaves the board; one whose address changed (a sibling
    replaced) starts again, undecided."""
    after: dict[str, Seen] = {}
    moved: list[Transition] = []
    for watch, run in measured:
        before = board.get(watch.key)
        if before is None or before.watch.address != watch.address:
            before = Seen(watch)
        seen = _stepped(replace(before, watch=watch), run, policy, loss_limit_pct)
        after[watch.key] = seen
        if seen.decided and (not before.decided or seen.health.state != before.health.state):
            moved.append(Transition(watch.kind, watch.name, seen.health.state, run.at))
    return after, tuple(moved)


def _stepped(seen: Seen, run: healthmod.Run, policy: Failover, limit: float) -> Seen:
    health = healthmod.step(seen.health, run, policy, limit)
    decided = seen.decided or health.since is not None
    decided = decided or health.failures >= policy.consecutive_failures
    return Seen(seen.watch, health, decided)


def is_ready(board: Board, tunnels: Sequence[str], converged: bool) -> bool:
    """Converged, and every tunnel of the configuration measured UP."""
    return converged and all(
        (seen := board.get(f"tunnel:{t}")) is not None and seen.up for t in tunnels
    )


# ---------------------------------------------------------------- the shell

Measure = Callable[[Sequence[Target], Schedule], Report]
"""One probe run of these targets (``vpnctl.probe.prober.probe`` with thresholds bound)."""

Finder = Callable[[Sequence[str]], Mapping[str, IPv4Address]]
"""The VPC-side addresses of the sibling gateways it can find now, by name."""


class Sink(Protocol):
    """Where the loop's outcome goes: the publisher, or nothing in a lab without AWS."""

    def tick(
        self, report: Report, board: Board, moved: Sequence[Transition], now: float
    ) -> None: ...

    def ready(self, digest: str, now: float) -> bool:
        """Say the gateway is ready (once per digest); True when it was said."""
        ...


@dataclass(frozen=True)
class Converged:
    """What the loop needs of the last converge pass."""

    digest: str
    converged: bool
    config: Config


@dataclass
class Loop:
    """Measure, advance, publish, again; ``converged`` is what the converge loop last did."""

    measure: Measure
    sink: Sink
    find: Finder
    schedule: Schedule
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    pause_s: float = 0.0  # between runs
    refind_s: float = 60.0  # how often sibling addresses are looked up again
    plan: Spec | None = None
    board: dict[str, Seen] = field(default_factory=dict)
    converged: Converged | None = None
    _siblings: Mapping[str, IPv4Address] = field(default_factory=dict)
    _found_at: float | None = None
    _ready_for: str | None = None
    _tunnels: Mapping[str, IPv4Address] = field(default_factory=dict)  # of ``converged``
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def update(self, converged: Converged, plan: Spec | None) -> None:
        """From the converge thread: the configuration now run, and its probe plan."""
        with self._lock:
            if plan is not None and plan != self.plan:
                self.plan, self._found_at = plan, None
            if self.converged is None or self.converged.digest != converged.digest:
                self._tunnels = far_ends(converged.config)
            self.converged = converged

    def once(self) -> tuple[Transition, ...] | None:
        """One run of every watch; None when there was nothing to measure or no way to."""
        started = self._start()
        if started is None:
            return None
        return self._finish(started, self.measure(started.targets, self.schedule))

    def _start(self) -> _Started | None:
        """What a run measures, fixed when it starts: the plan, the configuration, the watches."""
        with self._lock:
            plan, converged, tunnels = self.plan, self.converged, self._tunnels
        if plan is None or converged is None:
            return None
        now = self.clock()
        watched = watches(tunnels, self._sibling_addresses(plan, now), plan)
        return _Started(plan, converged, watched, now) if watched else None

    def _finish(self, started: _Started, report: Report) -> tuple[Transition, ...] | None:
        """Advance the board by one measured run (runs are finished in the order they began)."""
        if report.transport is None:
            log.warning("cannot probe: %s", report.results[0].reason if report.results else "?")
            return None
        plan, now = started.plan, started.at
        runs = [as_run(r, now, plan.probe.crit) for r in report.results]
        self.board, moved = advance(
            self.board,
            list(zip(started.watched, runs, strict=True)),
            plan.failover,
            plan.probe.crit.loss_pct,
        )
        for t in moved:
            log.info("%s %s is %s", t.kind, t.name, t.state)
        self.sink.tick(report, self.board, moved, now)
        self._say_ready(started.converged, now)
        return moved

    def _say_ready(self, converged: Converged, now: float) -> None:
        tunnels = sorted(converged.config.tunnels())
        if self._ready_for == converged.digest:
            return
        if is_ready(self.board, tunnels, converged.converged) and self.sink.ready(
            converged.digest, now
        ):
            self._ready_for = converged.digest

    def _sibling_addresses(self, plan: Spec, now: float) -> Mapping[str, IPv4Address]:
        if not plan.siblings:
            return {}
        since = None if self._found_at is None else now - self._found_at
        if since is None or since >= self.refind_s or (self._lost(plan) and since >= REFIND_LOST_S):
            try:
                self._siblings = dict(self.find(plan.siblings))
            except Exception as exc:  # an AWS outage must not stop the probes
                log.warning("cannot find the sibling gateways (%s); keeping what was known", exc)
            self._found_at = now
        return self._siblings

    def _lost(self, plan: Spec) -> bool:
        """A sibling not found, or DOWN, may have been replaced: look again soon."""
        down = any(s.watch.kind == "sibling" and not s.up for s in self.board.values())
        return down or set(plan.siblings) - set(self._siblings) != set()

    def run(self, stop: Callable[[], bool] = lambda: False, runs: int | None = None) -> None:
        """Run after run until ``stop()``; idle a little while there is nothing to measure."""
        count = 0
        while not stop() and (runs is None or count < runs):
            count += 1
            measured = self.once()
            self.sleep(IDLE_S if measured is None else self.pause_s)

    def stream(self, stop: Callable[[], bool] = lambda: False) -> None:
        """Runs that overlap, so the echoes go out without a gap: the next run starts once
        this one has sent its last echo (``count * interval`` after it began), while this one
        still waits out that echo's timeout. A run alone leaves every target unprobed for the
        timeout at its end (0.6 s of every 1.4 s with the defaults); overlapping, a silent far
        end is DOWN ``consecutive_failures`` send phases after it fell silent, plus one timeout,
        instead of that many whole runs. At most two runs are in flight, and they are judged
        in the order they began. ``measure`` must then be safe to call from two threads (the
        prober opens a socket per run, and matches replies by each run's own token)."""
        stagger_s = self.schedule.count * self.schedule.interval_ms / 1000.0
        flying: deque[tuple[_Started, Future[Report]]] = deque()
        due = self.clock()
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="probe") as pool:
            while not stop():
                if len(flying) < 2 and self.clock() >= due:
                    started = self._start()
                    if started is not None:
                        flying.append((started, pool.submit(self.measure, started.targets,
                                                            self.schedule)))  # fmt: skip
                    due = self.clock() + (stagger_s if started is not None else IDLE_S)
                if flying and flying[0][1].done():
                    started, future = flying.popleft()
                    self._finish(started, future.result())
                    continue
                wait_s = max(0.0, due - self.clock()) if len(flying) < 2 else IDLE_S
                if flying:
                    wait([flying[0][1]], timeout=wait_s)
                else:
                    self.sleep(wait_s)
            for started, future in flying:
                self._finish(started, future.result())


@dataclass(frozen=True)
class _Started:
    """A run as it began: what it measures, and against which plan and configuration."""

    plan: Spec
    converged: Converged
    watched: tuple[Watch, ...]
    at: float

    @property
    def targets(self) -> list[Target]:
        return [w.target for w in self.watched]
