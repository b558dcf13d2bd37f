"""Whether a link is UP or DOWN, decided across runs rather than from one.

A probe run is a snapshot of a few echoes. One lost run must not move traffic, and a link that
answers once after an outage must not get it back. So the state changes only after a streak:
DOWN after ``consecutive_failures`` failed runs in a row, UP again only after
``recovery_successes`` good runs in a row (the stricter number, so a flapping link stays DOWN).

What makes a run failed must be sound for its sample size: with 20 echoes a run, two lost
already read as 10%, so at 4% random loss a 10% threshold would be "reached" in one run of
five, and three such runs in a row come often enough to move routes for nothing. So:

- a run that got nothing back (``silent``) or whose median RTT reached the critical one
  (``slow``) is failed: a dead or hung tunnel is caught in ``consecutive_failures`` runs;
- loss counts only as evidence: the echoes of every run since the state last changed (the
  newest ``LOSS_WINDOW`` of them) are pooled, and the run is failed when the Wilson score
  interval's lower bound of the pooled loss, at one-sided 99.9997% confidence, is above the
  critical loss. Random loss below the threshold then practically never counts; loss well
  above it does within a few runs, sooner the more echoes there are;
- a good run, the one that leads back UP, is one where something came back, the median was
  below the critical RTT and the run's own loss below the critical loss.

A run carrying no echo counts (state written by an older vpnctl) is judged by its status as
before: CRITICAL failed, OK or WARNING good. An UNKNOWN run, where the prober could not measure,
is recorded but counts neither way.

``step`` is the pure state machine; ``Store`` keeps one ``Health`` per target in a small JSON
file, written atomically under a lock so overlapping cron runs cannot tear it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from vpnctl.probe.atomic import write_atomically
from vpnctl.probe.verdict import Status
from vpnctl.topology import Failover

FORMAT_VERSION = 1
HISTORY = 60  # runs kept per target: an hour at one run a minute
LOSS_WINDOW = 400  # echoes pooled, at most, to judge loss
# How sure the loss must be: the standard normal quantile of one-sided 99.9997% confidence. Runs
# are judged one after another, so the bound is tested hundreds of times an hour; at 99.9%,
# 5% random loss each way (9.75% a round trip, against a 10% threshold) still went DOWN
# within ten minutes in one case of five, in simulation; at 4.0 in one of 200; at this level
# in none of 200. A dead tunnel does not wait for this: silence fails a run by itself.
Z = 4.5


@dataclass(frozen=True)
class Run:
    at: float  # unix time
    status: str
    loss_pct: float | None
    median_ms: float | None
    sent: int = 0  # echoes sent and answered; 0 when unknown (older state files)
    received: int = 0
    slow: bool = False  # the median RTT reached the critical one

    @property
    def counted(self) -> bool:
        return self.sent > 0


@dataclass(frozen=True)
class Health:
    state: str = "UP"
    failures: int = 0  # consecutive failed runs, up to now
    successes: int = 0  # consecutive good runs, up to now
    since: float | None = None  # when the state last changed
    runs: tuple[Run, ...] = ()


def step(health: Health, run: Run, policy: Failover, loss_limit_pct: float = 100.0) -> Health:
    """The health after one more run; ``loss_limit_pct`` is the critical loss threshold."""
    runs = (*health.runs, run)[-HISTORY:]
    status = Status[run.status]
    if status is Status.UNKNOWN:
        return replace(health, runs=runs)
    if _failed(run, _since(runs, health.since), status, loss_limit_pct):
        failures = health.failures + 1
        down = health.state == "DOWN" or failures >= policy.consecutive_failures
        return _moved(health, "DOWN" if down else "UP", failures, 0, run.at, runs)
    if not _good(run, status, loss_limit_pct):
        return replace(health, failures=0, successes=0, runs=runs)
    successes = health.successes + 1
    up = health.state == "UP" or successes >= policy.recovery_successes
    return _moved(health, "UP" if up else "DOWN", 0, successes, run.at, runs)


def _failed(run: Run, window: tuple[Run, ...], status: Status, limit_pct: float) -> bool:
    if not run.counted:
        return status is Status.CRITICAL
    if run.received == 0 or run.slow:
        return True
    counted = [r for r in window if r.counted][::-1]
    sent = lost = 0
    for r in counted:
        if sent >= LOSS_WINDOW:
            break
        sent, lost = sent + r.sent, lost + r.sent - r.received
    return wilson_lower(lost, sent) * 100 > limit_pct


def _good(run: Run, status: Status, limit_pct: float) -> bool:
    if not run.counted:
        return status is not Status.CRITICAL
    return (
        run.received > 0
        and not run.slow
        and run.loss_pct is not None
        and (run.loss_pct < limit_pct)
    )


def _since(runs: tuple[Run, ...], since: float | None) -> tuple[Run, ...]:
    """The runs since the state last changed (all of them when it never has), and since the
    last silent run: silence fails a run by itself, and pooling it into the loss of the runs
    after would keep a tunnel that answers again DOWN until the silence left the window (400
    echoes, two minutes at the agent's pace) instead of ``recovery_successes`` runs."""
    found = runs if since is None else tuple(r for r in runs if r.at > since)
    silent = [i for i, r in enumerate(found) if r.counted and r.received == 0]
    return found[silent[-1] + 1 :] if silent else found


def wilson_lower(lost: int, sent: int, z: float = Z) -> float:
    """The lower bound of the Wilson score interval of the loss rate ``lost / sent``."""
    if sent == 0:
        return 0.0
    p = lost / sent
    centre = p + z * z / (2 * sent)
    spread = z * math.sqrt(p * (1 - p) / sent + z * z / (4 * sent * sent))
    return max(0.0, (centre - spread) / (1 + z * z / sent))


def _moved(
    old: Health, state: str, failures: int, successes: int, at: float, runs: tuple[Run, ...]
) -> Health:
    since = at if state != old.state else old.since
    return Health(state, failures, successes, since, runs)


class StateError(Exception):
    """The state file exists but is not ours to read; the message says what to do."""


class Store:
    """One Health per target key, in a JSON file that is replaced whole, never edited."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the state's lock: a second cron run waits instead of losing an update."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{self.path}.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def load(self) -> dict[str, Health]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StateError(
                f"{self.path}: unreadable probe state ({exc}); move it aside"
            ) from None
        return _decode(document, self.path)

    def save(self, healths: Mapping[str, Health]) -> None:
        document = {
            "format_version": FORMAT_VERSION,
            "targets": {key: asdict(h) for key, h in sorted(healths.items())},
        }
        write_atomically(self.path, json.dumps(document, indent=1) + "\n")


def _decode(document: Any, path: Path) -> dict[str, Health]:
    try:
        if document["format_version"] != FORMAT_VERSION:
            raise ValueError(f"format_version {document['format_version']!r}")
        return {key: _health(value) for key, value in document["targets"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StateError(f"{path}: not vpnctl probe state ({exc}); move it aside") from None


def _health(value: Mapping[str, Any]) -> Health:
    runs = tuple(Run(**run) for run in value["runs"])
    if value["state"] not in ("UP", "DOWN") or any(
        r.status not in Status.__members__ for r in runs
    ):
        raise ValueError(f"unknown state in {value!r}")
    return Health(
        value["state"], int(value["failures"]), int(value["successes"]), value["since"], runs
    )
